"""swiftnn: fully connected neural networks on a Swift engine, with CS231n's API."""
from ._native import SwiftNNError, version as __version__
from . import layers

__all__ = ["SwiftNNError", "layers", "__version__"]
