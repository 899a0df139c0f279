"""Writes notebooks/00_vgg16_walkthrough.ipynb (source of truth for its cells).

    python tools/make_nb00.py
    KERASVIZ_QUICK=1 jupyter nbconvert --to notebook --execute --inplace notebooks/00_vgg16_walkthrough.ipynb
    python tools/clean_notebook.py notebooks/00_vgg16_walkthrough.ipynb
"""
import nbformat as nbf

cells = []
md = lambda s: cells.append(nbf.v4.new_markdown_cell(s.strip()))
code = lambda s: cells.append(nbf.v4.new_code_cell(s.strip()))

md("""
# 00 · A walk through VGG16

One network, one photo of a cat, and every kerasviz view in the order a course would teach them:

1. **the model**: layers, shapes, where the weights came from;
2. **a prediction** on the cat;
3. **activations** per block: edges early, abstraction later, blank maps in block 5;
4. **filter weights** of the first layer;
5. **filter maximization**: the image each filter likes best, block by block;
6. **class maximization**: the image a class likes best;
7. **saliency, integrated gradients, Grad-CAM**: which pixels the prediction depends on;
8. **occlusion**: hide a patch, watch the score;
9. **LRP**: the score divided among the pixels, layer by layer;
10. **decoded filters**: each filter brought down to pixel space;
11. **top-k patches** over a folder of photos: what the filter fires on in real data.

Each step has a short note (*look for*, *meaning*, *pitfall*), an interactive widget, and a static figure
under the widget so the notebook also reads on GitHub or nbviewer, where widgets do not render.
""")
code("""
from dataclasses import replace

import numpy as np
import matplotlib.pyplot as plt
from IPython.display import Markdown, display
import kerasviz as kv

kv.style("notebook");   # kerasviz figure defaults; kv.style("slides") for a projector (section 4 shows it)
""")
md("""
## 1 · The model

`kv.load_vgg16()` loads VGG16 with its ImageNet weights. The weights (528 MB) are downloaded once to
`$KERAS_HOME/models` (default `~/.keras/models`). Without network access the download fails, and
kerasviz says so instead of quietly using random weights; this notebook then continues with an
**untrained** VGG16 *on purpose*, and every figure title says which one you are looking at.
""")
code("""
try:
    vgg = kv.load_vgg16()
except kv.WeightsUnavailableError as err:
    print(str(err).splitlines()[0][:110], "...")
    vgg = kv.load_vgg16(weights=None)
label = kv.weights_label(vgg)
print("VGG16:", label)
if label != "ImageNet weights":
    print(
        "NOTE: offline, so the pictures below come from an UNTRAINED network (random weights).\\n"
        "They show what the methods do, not what VGG16 learned. With real weights: the cat is classified\\n"
        "as a cat, block-1 filters become smooth edge and colour detectors, deep filters respond to\\n"
        "textures and object parts, and block 5 has many blank maps. To use real weights offline, copy\\n"
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5 to $KERAS_HOME/models/, or set\\n"
        "KERASVIZ_VGG16_WEIGHTS=/path/to/that/file, then restart the kernel."
    )
""")
md("""
VGG16 is a plain stack: five **blocks** of 3×3 convolutions (64, 128, 256, 512, 512 filters), each
ending in a 2×2 max-pool that halves the map, then three dense layers and a 1000-way softmax.
""")
code("""
vgg.summary()
""")
code("""
# NBVAL_CHECK_OUTPUT
convs = kv.conv_layers(vgg)
print(f"{len(convs)} conv layers, {vgg.count_params():,} parameters")
for name in convs:
    layer = vgg.get_layer(name)
    print(f"{name:13s} {str(layer.output.shape[1:]):16s} receptive field {kv.receptive_field(vgg, name).size[0]:3d} px")
""")
code("""
first, last = vgg.get_layer(convs[0]).output.shape, vgg.get_layer(convs[-1]).output.shape
Markdown(f"*Look for:* the maps shrink ({first[1]} → {last[1]} pixels a side) while the channels grow "
         f"({first[-1]} → {last[-1]}), and each unit sees a wider part of the image (its **receptive field**: "
         f"{kv.receptive_field(vgg, convs[0]).size[0]} px in `{convs[0]}`, "
         f"{kv.receptive_field(vgg, convs[-1]).size[0]} px in `{convs[-1]}`).")
""")
md("""
The dense head only accepts 224×224 images. For the filter views below we also use the **conv base**
alone (the same 13 convolutions, any image size), with the same weights copied over:
""")
code("""
conv_base = kv.load_vgg16(weights=None, include_top=False)       # any input size
conv_base.set_weights(vgg.get_weights()[: len(conv_base.weights)])  # the same conv weights as `vgg`
kv.set_weights_label(conv_base, label)
""")
md("""
## 2 · A prediction on the cat

`kv.sample_image("cat")` is Chelsea the cat from scikit-image (offline). VGG16 reads **caffe-style**
input: BGR channel order, ImageNet mean subtracted. `kv.preprocess` does that and `kv.deprocess` undoes it.
""")
code("""
cat = kv.sample_image("cat", size=224)     # uint8 RGB (224, 224, 3)
x = kv.preprocess(cat)                    # float32 BGR, mean-centred: VGG16's input space
probs = vgg.predict(x[None], verbose=0)[0]
cat_classes = {281: "tabby cat", 282: "tiger cat", 283: "Persian cat", 284: "Siamese cat", 285: "Egyptian cat"}
top5 = np.argsort(probs)[::-1][:5]
fig, ax = plt.subplots(figsize=(3, 3))
ax.imshow(cat); ax.axis("off")
ax.set_title(f"top class {top5[0]} ({probs[top5[0]]:.3f})\\nVGG16, {label}", fontsize=9)
plt.show()
for c in top5:
    print(f"class {c:4d} {cat_classes.get(int(c), ''):13s} p = {probs[c]:.4f}")
print(f"the five cat classes together: p = {probs[281:286].sum():.4f} (uniform guess: {5 / 1000})")
""")
md("""
*Look for:* with ImageNet weights the top classes are the cat classes (281–285), with most of the
probability. *Meaning:* an untrained network gives every class about 1/1000: its "top class" is noise.
*Pitfall:* forgetting `kv.preprocess` (RGB 0–255 straight in) still gives a confident-looking answer,
just a worse one; always feed the model its own input space.
""")
md("""
## 3 · Activations per block

`kv.activations` runs **one** forward pass and returns the maps of every layer you ask for. Each map
is one filter's response over the image: bright where the filter's pattern is present.
""")
code("""
acts = kv.activations(vgg, x, convs)
for layer in ["block1_conv1", "block3_conv3", "block5_conv3"]:
    kv.plot_activations(acts, layer, max_maps=32, cols=16, title=f"VGG16, {label}")
    plt.show()
""")
md("""
The usual reading of these maps for trained weights (H. Rawlani, *convnet-interpretability-keras*; F. Chollet,
*Deep Learning with Python*, 2017, chapter 5):

- **block 1-2** keep most of the image: many maps still look like the cat. The filters fire all over
  the image; they are primitive **edge and colour detectors**.
- **block 3-4** are less and less recognisable: the network is **abstracting away** the picture
  towards what matters for the class.
- **block 5** (`block5_conv3`) has many **blank** maps (all zero): the pattern that filter encodes is
  simply not in this image.

*Pitfall:* blank is not the same as useless. A blank map on one cat says nothing about a filter;
a filter that is blank on **every** image (a dead filter) does. So count blank maps over several photos:
`kv.blank_maps` marks the all-zero maps of one image, `kv.activation_summary` streams a set of images
and keeps per channel the fraction of images on which its map is blank.
""")
code("""
photos = np.stack([kv.sample_image(name, size=224) for name in ("cat", "coffee", "astronaut", "rocket")])
summary = kv.activation_summary(vgg, convs, kv.preprocess(photos), progress=False)
blank_cat = [kv.blank_maps(acts[name])[0].mean() for name in convs]
blank_all = [summary[name].blank_fraction.mean() for name in convs]
fig, ax = plt.subplots(figsize=(8, 2.8))
pos = np.arange(len(convs))
ax.bar(pos - 0.2, blank_cat, 0.4, label="the cat")
ax.bar(pos + 0.2, blank_all, 0.4, label=f"mean over {summary[convs[0]].count} photos")
ax.set_xticks(pos, [c.replace("_conv", "\\nconv") for c in convs], fontsize=7)
ax.set_ylabel("fraction of blank maps"); ax.legend(fontsize=8)
ax.set_title(f"blank (all-zero) maps per layer, VGG16, {label}", fontsize=10)
plt.show()
for block in range(1, 6):
    names = [c for c in convs if c.startswith(f"block{block}_")]
    print(f"block {block}: {np.mean([summary[n].blank_fraction.mean() for n in names]):.1%} of maps blank "
          f"on average, {sum(len(summary[n].never_active) for n in names)} filters never active on these photos")
""")
md("""
*Look for:* the fraction of blank maps grows with depth. Even an untrained VGG16 shows a little of
that (deep units see sums of many rectified values and some stay below zero); with ImageNet weights
block 5 is far sparser, because each filter there stands for a specific object part.

### Explore

Pick a layer and an image; the channel slider shows one map beside the photo. Activations are
computed once per image and cached, so the controls only redraw. (Widgets need a live kernel; the
static figure below shows what it draws.)
""")
code("""
activation_explorer = kv.widgets.ActivationExplorer(vgg, kv.preprocess(photos), display=photos, layers=convs)
activation_explorer.layer.value = "block4_conv1"
activation_explorer
""")
code("""
maps = activation_explorer.maps()          # what the widget shows: (28, 28, 512) for block4_conv1
strongest = int(maps.max(axis=(0, 1)).argmax())
kv.plot_channel(photos[0], maps, strongest, layer="block4_conv1")
plt.show()
""")
md("""
## 4 · Filter weights

The first layer works on colour pixels, so its 64 filters (3×3×3) can be drawn as tiny colour patches
(`plot_filters` turns VGG16's BGR weights back into RGB). Under each patch is its **roughness**: 1 for
white noise, much less for smooth patterns.

*Look for:* with ImageNet weights, oriented edges and colour blobs, roughness well below 1. *Meaning:*
noisy first-layer filters are a sign of an untrained or badly trained network (Karpathy, Johnson et al.,
*CS231n: Convolutional Neural Networks for Visual Recognition*, "Visualizing what ConvNets learn").
*Pitfall:* deeper filters have hundreds of input channels; they cannot be read as pictures. Use the
"summary" view (which inputs each filter uses) or the filter maximization of section 5.
""")
code("""
kv.plot_filters(vgg, "block1_conv1", title=f"VGG16, {label}")
plt.show()
""")
md("""
**On a projector**, `kv.style("slides")` makes every later kerasviz figure readable from the back of the
room (larger fonts, fewer tiles per row); used as a `with` block it applies only inside the block, and
matplotlib's own settings are never changed.
""")
code("""
with kv.style("slides"):
    kv.plot_filters(vgg, "block1_conv1", title=f"VGG16, {label}, slides style")
    plt.show()
""")
code("""
filter_explorer = kv.widgets.FilterExplorer(vgg)
filter_explorer.layer.value = "block3_conv1"
filter_explorer.mode.value = "summary"
filter_explorer
""")
code("""
kv.plot_filters(vgg, "block3_conv1", mode="summary", title=f"VGG16, {label}")
plt.show()
""")
md("""
## 5 · Filter maximization, block by block

`kv.visualize_filters` starts from noise and changes the **image** by gradient ascent until the
filter's mean activation is as high as it gets (Lucid's recipe: Fourier parameterization, jitter,
scale and rotation for robustness). All filters of a call are optimised together in one batch.

*Look for:* block 1 gives flat colours and stripes, block 2-3 textures, block 4-5 repeated object
parts (eyes, fur, wheels) with real weights. *Meaning:* each picture is what the filter is
*looking for*, independent of any photo. *Pitfall:* these images are not natural; strong
regularisation makes them prettier but less faithful. The score under each tile says how strongly the
filter responds; compare it with the values it reaches on real photos. In quick mode
(`KERASVIZ_QUICK=1`, used by the tests) the optimisation stops after a few steps and the images are
still mostly noise: run without it for the real pictures. Each row says how many steps it ran and
whether every filter's score rose above its starting value; a filter whose score did not is left out.
""")
code("""
block_layers = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]
for layer in block_layers:
    result = kv.visualize_filters(conv_base, layer, filters=range(4), size=64, progress=False)
    moved = result.scores > result.initial_scores
    print(f"{layer}: {len(result.history)} steps; score above its start for {moved.sum()} of {len(moved)} filters")
    if not moved.all():   # a tile that never left its start is noise: leave it out
        print(f"left out: filter(s) {result.units[~moved].tolist()} stayed at their starting score")
        result = replace(result, images=result.images[moved], scores=result.scores[moved], units=result.units[moved],
                         initial_scores=result.initial_scores[moved], history=result.history[:, moved])
    if moved.any():
        display(kv.plot_filter_grid(result, cols=4, tile_inches=1.1, title=f"{layer}: filters {result.units.tolist()}\\nVGG16, {label}"))
""")
md("""
### Explore

Choose a layer and the first filter; four filters are optimised at once. Try the pixel
parameterization without a regularizer to see why the Fourier one is the default.
""")
code("""
featurevis_explorer = kv.widgets.FeatureVisExplorer(conv_base, layers=block_layers, count=4, size=64, budget=120)
featurevis_explorer
""")
code("""
featurevis_explorer.figure
""")
md("""
## 6 · Class maximization

The same ascent, on a **class score** instead of a filter: the image VGG16 finds most "tabby cat"
(Simonyan et al.). kerasviz optimises the *logit* (the softmax is linearised on a copy of the model),
because raising a softmax probability can also be done by lowering all other classes.

*Look for:* with ImageNet weights, cat faces, ears and fur patterns scattered over the image, not a
whole cat. *Pitfall:* the class model only uses 224×224 input (the dense head is fixed) and every step
is a full forward and backward pass, so it is the slowest view here.
""")
code("""
classes = kv.visualize_classes(vgg, [281], regularizers=[kv.regularizers.Lp(0.05)], progress=False)
print(f"{len(classes.history)} steps; logit {classes.initial_scores[0]:.2f} at the start -> {classes.scores[0]:.2f}")
if classes.scores[0] > classes.initial_scores[0]:
    display(kv.plot_filter_grid(classes, cols=1, tile_inches=2.4, title=f"class 281 'tabby cat'\\nVGG16, {label}"))
""")
md("""
## 7 · Saliency, integrated gradients, Grad-CAM

Three answers to "which pixels does the score of the top class depend on?":

- **saliency** (Simonyan et al.): |∂score/∂pixel|, fast and noisy;
- **integrated gradients** (Sundararajan et al.): gradients averaged along a path from a black image
  to the cat, times the difference; the map adds up to score(cat) − score(black);
- **Grad-CAM** (Selvaraju et al.): the last conv block's maps weighted by their gradients; coarse
  (14×14 upsampled) but class-specific.

*Check:* integrated gradients must add up to the score difference (its *completeness*); when the two
numbers printed below disagree, raise `steps` (quick mode uses fewer, and with random weights the
difference itself is tiny).

*Pitfall:* a map that shows a sharp cat is not proof that the model looks at the cat: edge-like maps
appear even for a network with random weights (Adebayo et al.'s sanity checks, notebook 03). That is
exactly what you may be seeing here if the title says *untrained*.
""")
code("""
black = kv.preprocess(np.zeros_like(cat))
ig = kv.integrated_gradients(vgg, x, baseline=black, steps=kv.max_steps(128, quick=16), progress=False)  # enough to converge
maps = {
    "saliency": kv.saliency(vgg, x),
    "integrated gradients": ig.attributions,
    "Grad-CAM": kv.grad_cam(vgg, x),
}
kv.plot_attribution_grid(cat, maps, title=f"VGG16, {label}, predicted class {top5[0]}")
""")
code("""
print(f"IG: the map sums to {ig.attributions.sum():.4f}; score(cat) - score(black) = {ig.delta:.4f}; "
      f"completeness error {ig.convergence_error:.1%}")
""")
md("""
### Explore

Method, target class (the top five predictions) and each method's settings. Grad-CAM and saliency
are instant; integrated gradients and SmoothGrad take a few seconds on a CPU.
""")
code("""
attribution_explorer = kv.widgets.AttributionExplorer(vgg, x[None], display=cat[None])
attribution_explorer
""")
code("""
attribution_explorer.figure
""")
md("""
## 8 · Occlusion

Slide a grey patch over the image and record how much the class score drops (Zeiler & Fergus). No
gradients: just forward passes, one per patch position.

*Look for:* a red region where hiding the image hurts the score. *Meaning:* occlusion measures what
the model *needs*, not what it is sensitive to. *Pitfall:* the map is only as fine as the stride, and
the patch size sets what can be hidden: a patch smaller than the cat's head cannot hide the head.
In the attribution explorer above, pick "occlusion" and move the patch slider (small patches mean
many forward passes).
""")
code("""
occlusion = kv.occlusion(vgg, x, patch=75, stride=75, progress=False)   # a 3x3 grid of patches: 9 forward passes
kv.plot_attribution(cat, occlusion, title=f"occlusion, 75 px patches\\nVGG16, {label}")
""")
md("""
## 9 · Layer-wise relevance propagation (LRP)

LRP hands the class score back down the network layer by layer, conserving it, with a rule per layer
type (Bach et al., Montavon et al.). The `"vgg"` composite uses z^B at the pixels, γ in the lower
half of the convolutions, ε above and almost plain LRP-0 in the dense head (Montavon et al. 2019). Red pixels speak for the class, blue against.

*Pitfall:* the rule matters as much as the model. Plain ε-LRP on a deep network is as noisy as
gradient × input; the composite is what makes VGG16 heatmaps readable.
""")
code("""
lrp_explorer = kv.widgets.LRPExplorer(vgg, x, display=cat, rule="vgg", show_flow=False)
lrp_explorer
""")
md("""
Pick another rule in the widget (ε, γ, α1β0, z⁺, ...). The static figure: the composite rule, computed
directly with `kv.lrp`.
""")
code("""
relevance = kv.lrp(vgg, x, rule="vgg", progress=False)   # (224, 224, 3): relevance per pixel and channel
kv.plot_lrp(cat, {"LRP composite (vgg)": relevance}, title=f"VGG16, {label}", size=2.4)
plt.show()
""")
md("""
## 10 · Decoded filters

Rafegas & Vanrell bring each filter down to pixel space without any image: at every conv below, paste
the lower kernels weighted by the filter's weights; at every pool, upsample. The result is one linear
filter on the input (its size is the receptive field) that estimates the layer's response by a plain
correlation with the image.

*Look for:* block 1-2 decoded filters are small oriented edges and colour opponents; with depth they
grow and become textures. *Pitfall:* decoding ignores ReLUs and biases, so it is a linear sketch of a
non-linear unit: faithful near the input, rough in deep layers (notebook 02 measures the error on
LeNet). VGG16 reads BGR, so flip the channels to show the decoded filters in RGB.
""")
code("""
# NBVAL_CHECK_OUTPUT
decoded = {}
for layer in ["block1_conv2", "block2_conv2", "block3_conv3"]:
    decoded[layer] = kv.decode_filters(conv_base, layer, filters=range(16))[..., ::-1]   # BGR -> RGB
    print(f"{layer}: {decoded[layer].shape} (16 filters, receptive field {decoded[layer].shape[1]} px)")
""")
code("""
for layer, df in decoded.items():
    kv.plot_decoded_filters(df, labels=range(16), cols=16, title=f"VGG16 {layer} decoded ({label})")
    plt.show()
""")
md("""
The explorer also finds the photos where the filter responds most, once with the network (red box) and
once with its decoded filter (yellow box): when the boxes agree, the linear sketch is a good one. It draws VGG16's decoded filters in RGB, like the gallery above.
""")
code("""
folder = None          # e.g. "my_photos/": any folder of .jpg/.png; None = the offline sample photos
small_photos, names = kv.load_image_folder(folder, size=96)
xs = kv.preprocess(small_photos)
decoding_explorer = kv.widgets.DecodingExplorer(conv_base, xs, display=small_photos,
                                                layers=["block1_conv2", "block2_conv2", "block3_conv3"])
decoding_explorer
""")
code("""
for fig in decoding_explorer.figures():
    plt.show()
""")
md("""
## 11 · Top-k patches over a folder of images

The data-driven counterpart of filter maximization: stream a set of photos through the network and
keep, for each filter, the **k** image patches that activate it most. Each patch is the filter's
receptive field around its strongest unit. `kv.load_image_folder(None)` gives a few views of each
offline sample photo; point it at your own folder for a real dataset.

*Look for:* patches of one filter that share a colour, a texture or an object part. *Meaning:* this is
what the filter responds to *in real data*, which is the ground truth that filter maximization
approximates. *Pitfall:* with a few dozen images the top-k is what this small set happens to contain; use
hundreds of images before reading a filter's role off its patches.
""")
code("""
top = kv.top_activating(conv_base, "block3_conv3", xs, k=6, progress=False)
print(f"{len(xs)} photos; block3_conv3 patches {top.patches.shape[1:]} "
      f"(receptive field {kv.receptive_field(conv_base, 'block3_conv3').size[0]} px)")
kv.plot_top_activating(top, filters=range(6), display=kv.deprocess, title=f"VGG16 block3_conv3, top-6 patches ({label})")
plt.show()
""")
code("""
top_explorer = kv.widgets.TopActivatingExplorer(conv_base, xs, layers=["block3_conv3", "block2_conv2", "block4_conv3"],
                                                k=6, display=kv.deprocess, rows=4)
top_explorer.view.value = "images"
top_explorer
""")
code("""
top_explorer.figure()
plt.show()
""")
md("""
## Where next

- `01_activations_and_filters`: activations and weights of VGG16 and of a small CNN trained on MNIST;
  dead filters over a dataset.
- `02_filter_decoding_lenet`: filter decoding reproduced on the MNIST LeNet of the paper.
- `03_attribution`: every attribution method, with deletion curves and sanity checks.
- `04_feature_visualization`: filter and class models, recipes, DeepDream, feature inversion.
- `05_dataset_views`: top-k, Neuron Features, dead and redundant filters, t-SNE grids.
- `06_lrp`: LRP rules on LeNet and VGG16.
- `07_explorer`: all of the above in one app, `kv.widgets.Explorer(model, images)`.
- `08_concepts`: TCAV, NMF concepts, CRP and activation atlases.
- `09_your_own_model`: the same views on a Keras 2 `.h5` model, an image + metadata model and a 1-D signal model.

With ImageNet weights every figure in this notebook changes (see the note in section 1): rerun it
after putting the weights file in place.
""")
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}})
nbf.write(nb, "notebooks/00_vgg16_walkthrough.ipynb")
