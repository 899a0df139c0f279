"""Measure what each method costs on this machine, for docs/cheatsheet.md.

    python tools/cheatsheet_costs.py            # full settings (the defaults a user gets)

VGG16 (untrained, seeded: timing does not depend on the weights) on one 224×224 photo, and the small MNIST
CNN of the notebooks on one digit. Each call is made once to compile (with a cheap setting where the method
has one) and then timed once with the settings in the table; wall-clock seconds, so a busy machine reads
slower. Prints a Markdown table.
"""
import os
import sys
import time

os.environ.pop("KERASVIZ_QUICK", None)   # the defaults a user gets, not the test caps
import numpy as np  # noqa: E402

import kerasviz as kv  # noqa: E402  (before keras: quiet start-up)
import keras  # noqa: E402


def timed(fn, warm=None):
    (warm or fn)()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def mnist_cnn():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv1"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu", padding="same", name="conv2"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(10, name="logits"),
    ])
    return model


def main():
    vgg = kv.load_vgg16(weights=None)
    x = kv.preprocess(kv.sample_image("cat", size=224))
    base = kv.load_vgg16(weights=None, include_top=False, input_shape=(128, 128, 3))
    photos, _ = kv.load_image_folder(None, size=128)
    xs = kv.preprocess(photos)
    cnn = mnist_cnn()
    digits = np.random.default_rng(0).uniform(0, 1, (200, 28, 28, 1)).astype("float32")
    q = dict(progress=False)
    rows = [
        ("saliency", "VGG16, 1 image", lambda: kv.saliency(vgg, x), None),
        ("gradient × input", "VGG16, 1 image", lambda: kv.gradient_x_input(vgg, x), None),
        ("SmoothGrad (50 samples)", "VGG16, 1 image", lambda: kv.smoothgrad(vgg, x, **q),
         lambda: kv.smoothgrad(vgg, x, samples=2, **q)),
        ("VarGrad (50 samples)", "VGG16, 1 image", lambda: kv.vargrad(vgg, x, **q), lambda: kv.vargrad(vgg, x, samples=2, **q)),
        ("integrated gradients (50 steps)", "VGG16, 1 image", lambda: kv.integrated_gradients(vgg, x, **q),
         lambda: kv.integrated_gradients(vgg, x, steps=2, **q)),
        ("guided backprop", "VGG16, 1 image", lambda: kv.guided_backprop(vgg, x), None),
        ("Grad-CAM", "VGG16, 1 image", lambda: kv.grad_cam(vgg, x), None),
        ("HiResCAM / XGrad-CAM / LayerCAM", "VGG16, 1 image", lambda: kv.hires_cam(vgg, x), None),
        ("Eigen-CAM", "VGG16, 1 image", lambda: kv.eigen_cam(vgg, x), None),
        ("Score-CAM (512 channels)", "VGG16, 1 image", lambda: kv.score_cam(vgg, x, **q),
         lambda: kv.score_cam(vgg, x, max_channels=16, **q)),
        ("Ablation-CAM (512 channels)", "VGG16, 1 image", lambda: kv.ablation_cam(vgg, x, **q), None),
        ("occlusion (patch 32, stride 16: 169 windows)", "VGG16, 1 image",
         lambda: kv.occlusion(vgg, x, patch=32, stride=16, **q), lambda: kv.occlusion(vgg, x, patch=112, stride=112, **q)),
        ("RISE (500 masks)", "VGG16, 1 image", lambda: kv.rise(vgg, x, samples=500, **q),
         lambda: kv.rise(vgg, x, samples=32, **q)),
        ("LIME (500 samples, 50 superpixels)", "VGG16, 1 image", lambda: kv.lime(vgg, x, samples=500, **q),
         lambda: kv.lime(vgg, x, samples=32, **q)),
        ("KernelSHAP (500 samples, 50 superpixels)", "VGG16, 1 image", lambda: kv.kernel_shap(vgg, x, samples=500, **q),
         lambda: kv.kernel_shap(vgg, x, samples=32, **q)),
        ("Sobol attribution (8 designs, 8×8 grid)", "VGG16, 1 image", lambda: kv.sobol_attribution(vgg, x, designs=8, **q),
         lambda: kv.sobol_attribution(vgg, x, designs=2, **q)),
        ("LRP, composite 'vgg'", "VGG16, 1 image", lambda: kv.lrp(vgg, x, rule="vgg", **q), None),
        ("CRP, 4 most relevant channels of block5_conv3", "VGG16, 1 image",
         lambda: kv.crp(vgg, x[None], layer="block5_conv3", top=4, **q), None),
        ("activations, 13 conv layers", "VGG16, 1 image", lambda: kv.activations(vgg, x[None], kv.conv_layers(vgg), **q), None),
        ("filter maximization, 4 filters × 256 steps, 64 px", "VGG16 block4_conv3",
         lambda: kv.visualize_filters(base, "block4_conv3", filters=range(4), size=64, **q),
         lambda: kv.visualize_filters(base, "block4_conv3", filters=range(4), size=64, steps=2, **q)),
        ("top-k patches (28 photos, 128 px)", "VGG16 block3_conv3", lambda: kv.top_activating(base, "block3_conv3", xs, **q), None),
        ("decoded filters (16 filters)", "VGG16 block3_conv3", lambda: kv.decode_filters(base, "block3_conv3", filters=range(16)), None),
        ("NMF concepts (k=8, 200 digits)", "MNIST CNN conv2", lambda: kv.nmf_concepts(cnn, "conv2", digits, 8, importance=False, **q), None),
        ("TCAV (1 concept, 10 random sets)", "MNIST CNN conv2",
         lambda: kv.tcav(cnn, "conv2", {"c": digits[:40]}, digits[:50], 0, random_images=digits[50:], random_sets=10, **q), None),
    ]
    only = set(sys.argv[1:])
    print("| method | on | seconds |\n|---|---|---|")
    for name, where, fn, warm in rows:
        if only and not any(o.lower() in name.lower() for o in only):
            continue
        print(f"| {name} | {where} | {timed(fn, warm):.2f} |", flush=True)


if __name__ == "__main__":
    main()
