"""Former home of the loaders, sample photos, file reading and preprocessing; kept so old imports work.

Import from the modules named for what they hold instead:

- `kerasviz.loaders`: `load_vgg16`, `load_mnist`, `read_mnist_npz`,
  `download_timeout`, `vgg16_weights_file`, `mnist_file`, `VGG16_WEIGHTS_ENV`, `MNIST_ENV`.
- `kerasviz.provenance`: `weights_label`, `set_weights_label`, `model_family`,
  `set_model_family`, `takes_bgr`.
- `kerasviz.preprocessing`: `preprocess`, `deprocess`, `preprocessing_mode`,
  `CAFFE_MEAN_BGR`, `TORCH_MEAN`, `TORCH_STD`, `FAMILY_MODES`.
- `kerasviz.photos`: `sample_image`, `sample_photos`, `SAMPLE_PHOTOS`, `fit_image`, `fit_photos`.
- `kerasviz.imagefiles`: `read_photo`, `read_photos`, `image_files`, `IMAGE_EXTENSIONS`, `to_uint8`.

(`kerasviz.dataset` is the dataset-views package: top-k images, Neuron
Features, dead filters, t-SNE grids.)
"""

from kerasviz.core.errors import DatasetUnavailableError, ImageReadError, WeightsUnavailableError  # noqa: F401
from kerasviz.imagefiles import IMAGE_EXTENSIONS, image_files, one_line, read_photo, to_uint8  # noqa: F401
from kerasviz.loaders import (  # noqa: F401
    DOWNLOAD_TIMEOUT,
    MNIST_ENV,
    VGG16_WEIGHTS_ENV,
    download_timeout,
    is_download_failure,
    load_mnist,
    load_vgg16,
    read_mnist_npz,
)
from kerasviz.photos import SAMPLE_PHOTOS, fit_image, sample_image  # noqa: F401
from kerasviz.preprocessing import (  # noqa: F401
    CAFFE_MEAN_BGR,
    FAMILY_MODES,
    TORCH_MEAN,
    TORCH_STD,
    deprocess,
    preprocess,
    preprocessing_mode,
)
from kerasviz.provenance import model_family, set_model_family, set_weights_label, takes_bgr, weights_label  # noqa: F401

# The old private spellings, for modules not yet moved to the public names above.
_download_timeout = download_timeout
_is_download_failure = is_download_failure
_load_npz = read_mnist_npz
_SAMPLES = SAMPLE_PHOTOS
_to_uint8 = to_uint8
_one_line = one_line
_CAFFE_MEAN_BGR = CAFFE_MEAN_BGR
_TORCH_MEAN = TORCH_MEAN
_TORCH_STD = TORCH_STD
_FAMILY_MODE = FAMILY_MODES
_mode = preprocessing_mode
