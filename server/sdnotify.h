/* sdnotify.h: systemd's readiness protocol (NOTIFY_SOCKET) without libsystemd. */
#ifndef PGMCP_SDNOTIFY_H
#define PGMCP_SDNOTIFY_H

/* Sends one state string ("READY=1", "RELOADING=1", "STOPPING=1", ...); no-op without systemd. */
void sd_notify_state(const char *state);

#endif
