"""reluc: compile algorithms into exact ReLU networks.

The pipeline (see :mod:`reluc.compiler`)::

    spec text --spec.parse--> Spec --registry--> constructor --> Net (IR)
        --passes--> Net --formats.write--> .onnx / .npz file

and back::

    file --formats.read--> (Net, FileInfo) --analysis--> eval / stats
"""

# a constant (importlib.metadata costs start-up); a test holds it to pyproject.toml's
__version__ = "0.1.0"
