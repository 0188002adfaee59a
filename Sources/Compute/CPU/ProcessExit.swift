// Why executables end without library destructors: Debian 12's OpenBLAS (0.3.21, pthreads) can deadlock in its
// destructor at exit — blas_thread_shutdown_ joins a worker thread that never wakes — after BLAS was called from
// several threads (harkd's STT, TTS and LLM threads), leaving a daemon that logged "stopped" hanging forever.

import Glibc

/// Makes the process, when it exits (normally or through `exit`), flush stdio and end right after the atexit
/// handlers, without running shared libraries' destructors (nothing there is needed at exit; OpenBLAS's can hang).
/// Executables call it once at start; libraries never do.
public func exitWithoutLibraryDestructors() {
    // on_exit handlers run before the loader's finalizers (registered first, so run last) and see the status.
    on_exit(
        { status, _ in
            fflush(nil)
            _exit(status)
        }, nil)
}
