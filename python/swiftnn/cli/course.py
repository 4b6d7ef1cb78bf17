"""``swiftnn course``: the course's own notebooks in the student's own assignment folder; the
work is in :mod:`swiftnn.course`.

    swiftnn course kernel                 install the Jupyter kernel "Python 3 (swiftnn)"
    swiftnn course run NOTEBOOK [--out]   run a notebook headless in that kernel
"""
import sys

from .. import course
from ..experiment import UsageError
from ._args import Formatter, positive_int

NAME = "course"

EPILOG = """\
In the kernel, `import cs231n` gives swiftnn's package even where the assignment folder holds
the course's skeleton cs231n/; CIFAR-10 is read from the folder's cs231n/datasets/
cifar-10-batches-py and models save() into its cs231n/saved/.
"""


def add_parser(subparsers):
    p = subparsers.add_parser("course", help="the course's notebooks in your own assignment folder",
                              formatter_class=Formatter, epilog=EPILOG,
                              description="Run CS231n's own notebooks on swiftnn, in the assignment folder as unzipped.")
    sub = p.add_subparsers(dest="course_command", metavar="ACTION")
    sub.required = True
    k = sub.add_parser("kernel", formatter_class=Formatter, help='install the Jupyter kernel "Python 3 (swiftnn)"',
                       description='Installs the Jupyter kernel "%s" (name %s) into your Jupyter data folder\n'
                                   "($JUPYTER_DATA_DIR when set). Select it in Jupyter or VS Code and run the\n"
                                   "course's notebooks unchanged." % (course.DISPLAY_NAME, course.KERNEL_NAME))
    k.add_argument("--prefix", metavar="DIR", default=None,
                   help="install under DIR/share/jupyter/kernels instead (e.g. a virtual environment's sys.prefix)")
    r = sub.add_parser("run", formatter_class=Formatter, help="run a notebook headless in that kernel",
                       description="Runs NOTEBOOK top to bottom in the course kernel, in the notebook's folder. The\n"
                                   "Google Drive cell and the dataset-download shell lines are skipped and a failing\n"
                                   "cell does not stop the run; one line per code cell (cell N: ok | error: ... |\n"
                                   "skipped). Exit status 0 when no cell failed, 1 otherwise.")
    r.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb to run")
    r.add_argument("--out", metavar="PATH", default=None,
                   help="where to write the executed notebook (default: NAME.out.ipynb next to NOTEBOOK)")
    r.add_argument("--timeout", type=positive_int, default=None, metavar="SECONDS",
                   help="stop when one cell runs longer than this (default: no limit)")
    return p


def run(args):
    try:
        if args.course_command == "kernel":
            where = course.install_kernel(prefix=args.prefix)
            print('installed the kernel "%s" in %s' % (course.DISPLAY_NAME, where))
            print("select it in Jupyter (Kernel > Change kernel) or VS Code (Select Kernel) and run the "
                  "course's notebook in its assignment folder")
            return 0
        failed, out = course.run_notebook(args.notebook, out=args.out, timeout=args.timeout,
                                          log=lambda line: print(line, flush=True))
    except (ImportError, FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    print("%s: %s; the executed notebook is %s" % (args.notebook, "%d cell(s) failed" % failed if failed
                                                   else "every cell ran", out), file=sys.stderr)
    return 1 if failed else 0
