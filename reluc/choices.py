"""The names the command line offers before anything heavy is imported (``--help`` reads
them): file formats, weight dtypes, ONNX layouts and the engines ``eval`` runs. :mod:`reluc.formats` uses these."""

FORMATS = ("onnx", "npz")
DTYPES = ("float32", "float64")
LAYOUTS = ("auto", "dense", "sparse")
RUNTIMES = ("auto", "scipy", "ort")
