// EMULATOR of Rockchip librknnrt's matmul API (not hardware): filled in by the rknpu backend work.
#include "rknn_emulator.h"
