// Installed at load by exit.c: the test process exits without shared libraries' destructors.
#pragma once

/// 1 once the exit handler is installed.
int hark_test_exit_installed(void);
