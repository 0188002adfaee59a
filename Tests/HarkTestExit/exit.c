// The test process ends as Hark's executables do (Compute/CPU/ProcessExit.swift): stdio flushed, then _exit, without
// shared libraries' destructors. Debian 12's OpenBLAS (0.3.21) can deadlock in its destructor after BLAS was called
// from several threads, which the tests do: a CI run whose tests had all passed hung at exit (its last lines, still
// in a stdio buffer, never appeared) until CI's limit.
#include "HarkTestExit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int installed = 0;

int hark_test_exit_installed(void) { return installed; }

static void end_now(int status, void *unused) {
    (void)unused;
    fflush(NULL);
    _exit(status);
}

// At load, so that it holds whichever test library's main runs; on_exit handlers run before the loader's
// finalizers (registered before any constructor), which are what it skips.
__attribute__((constructor)) static void install(void) {
    if (on_exit(end_now, NULL) == 0) installed = 1;
}
