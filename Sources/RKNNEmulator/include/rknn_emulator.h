// EMULATOR of librknnrt's matmul API for tests; see rknn_emulator.c.
#pragma once
