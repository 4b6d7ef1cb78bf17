"""``swiftnn export``: a checkpoint written by ``swiftnn train`` as an ONNX model
(:mod:`swiftnn.onnx`) that takes the images as the dataset stores them, its preprocessing inside
the graph."""
from ..experiment import UsageError
from ..onnx import MIN_OPSET, export
from ._args import Formatter

NAME = "export"

EXPORT_EPILOG = """\
examples:
  swiftnn export out/train/model.npz -o model.onnx
  swiftnn export out/train/model.npz -o model.onnx --opset 21

The model's input 'input' is float32 (N, D): rows as the dataset stores them (Fashion-MNIST:
784 pixel values 0-255), preprocessed inside the graph as `swiftnn evaluate` does. Its outputs
are 'probabilities' (N, classes) and 'label' (N,). Needs the onnx package
(pip install 'swiftnn[onnx]', which brings onnxruntime to run the model too).
"""


def add_parser(subparsers):
    p = subparsers.add_parser("export", help="write a checkpoint as an ONNX model", formatter_class=Formatter,
                              description="Writes a checkpoint of swiftnn train as an ONNX model for onnxruntime or\n"
                                          "any other ONNX runtime: preprocessing and network in one graph.",
                              epilog=EXPORT_EPILOG)
    # not `checkpoint`: the parser sets args.checkpoint for --resume
    p.add_argument("source", metavar="CKPT", help="model.npz written by swiftnn train")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.onnx", help="the ONNX file to write")
    p.add_argument("--opset", type=int, default=MIN_OPSET, metavar="N",
                   help="ONNX operator set (%d, LayerNormalization's, or newer)" % MIN_OPSET)
    return p


def run(args):
    try:
        path = export(args.source, args.output, opset=args.opset)
    except (ImportError, OSError, ValueError, TypeError) as e:  # each names the file and the problem
        raise UsageError(str(e)) from None
    print("wrote %s (opset %d): input 'input' float32 (N, D), the rows as the dataset stores them; "
          "outputs 'probabilities' (N, classes) and 'label' (N,)" % (path, args.opset))
    return 0
