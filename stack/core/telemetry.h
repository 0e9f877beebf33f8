/* SPDX-License-Identifier: BSD-3-Clause */
/* rte_telemetry endpoints (telemetry.c). */
#ifndef TERN_CORE_TELEMETRY_H
#define TERN_CORE_TELEMETRY_H

#include <stdbool.h>

/* Control thread: the workers and their graphs exist (up), or are about
 * to be freed (down); the endpoints answer only while up. */
void tern_telemetry_up(bool up);

#endif
