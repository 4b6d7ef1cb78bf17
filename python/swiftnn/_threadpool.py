"""The engine's thread count as a threadpoolctl controller.

threadpoolctl finds controllers by the file name of the shared libraries a process has loaded;
registering this one makes ``threadpool_limits(n)`` and joblib's limits for nested parallelism
(a GridSearchCV(n_jobs=2) worker gets cpu_count // n_jobs threads) set the engine's threads as
they set OpenBLAS's. Without threadpoolctl installed nothing is registered.
"""
try:
    import threadpoolctl
except ImportError:  # the sklearn extra is not installed
    threadpoolctl = None

from . import _native

if threadpoolctl is not None:
    class SwiftNNController(threadpoolctl.LibController):
        """libswiftnn's helper-thread team (snn_thread_count / snn_set_thread_count)."""

        user_api = "swiftnn"
        internal_api = "swiftnn"
        filename_prefixes = ("libswiftnn",)

        def get_num_threads(self):
            return int(_native.lib.snn_thread_count())

        def set_num_threads(self, num_threads):
            # threadpoolctl passes a limit, which may exceed what the engine can run.
            n = max(1, min(int(num_threads), int(_native.lib.snn_max_thread_count())))
            status = _native.lib.snn_set_thread_count(n)
            if status:
                _native.raise_status(status, "threadpoolctl: swiftnn set_num_threads")

        def get_version(self):
            return _native.version

    if not any(c is SwiftNNController or getattr(c, "internal_api", None) == "swiftnn"
               for c in getattr(threadpoolctl, "_ALL_CONTROLLERS", [])):
        threadpoolctl.register(SwiftNNController)
