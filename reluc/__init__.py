"""reluc: compile algorithms into exact ReLU networks.

The pipeline (see :mod:`reluc.compiler`)::

    spec text --spec.parse--> Spec --registry--> constructor --> Net (IR)
        --passes--> Net --formats.write--> .onnx / .npz file

and back::

    file --formats.read--> (Net, FileInfo) --analysis--> eval / stats
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reluc")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
