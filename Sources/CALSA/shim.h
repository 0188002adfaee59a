#pragma once
#include <alsa/asoundlib.h>
#include <stdarg.h>
#include <stdio.h>

/*
 * alsa-lib reports problems (e.g. "Unknown PCM nosuchdevice") through a printf-style, variadic error handler that
 * prints to stderr by default. Swift cannot implement a variadic C function, so this shim formats each message
 * and hands it to a plain callback, which AudioIO routes to its logger.
 */

/** Receives one formatted alsa-lib message: source file, line, function, error number (0 or errno), text. */
typedef void (*CALSA_message_sink)(const char *file, int line, const char *function, int err, const char *message);

/** The sink messages go to (one per process, like alsa-lib's own handler). */
static inline CALSA_message_sink *CALSA_message_sink_slot(void) {
    static CALSA_message_sink sink = NULL;
    return &sink;
}

/** The variadic handler alsa-lib calls: formats the message (truncated to 512 bytes) and forwards it. */
static inline void CALSA_forward_message(const char *file, int line, const char *function, int err,
                                         const char *format, ...) {
    CALSA_message_sink sink = *CALSA_message_sink_slot();
    if (sink == NULL) return;
    char message[512];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    sink(file, line, function, err, message);
}

/**
 * Routes alsa-lib's messages to `sink` instead of stderr (NULL restores alsa-lib's default handler). Process-wide;
 * set it once, before other threads call into alsa-lib. Returns snd_lib_error_set_handler's result.
 */
static inline int CALSA_set_message_sink(CALSA_message_sink sink) {
    *CALSA_message_sink_slot() = sink;
    return snd_lib_error_set_handler(sink == NULL ? NULL : CALSA_forward_message);
}
