/*
 * listener.h -- opening a TCP listening socket and publishing its port.
 *
 * Shared by the serving listener (core/http) and the admin listener
 * (core/admin): both resolve a host, bind the first address that works,
 * and may write the port they got (port 0 = ephemeral) to a file that
 * tests and scripts poll.
 */
#ifndef AF_UTIL_LISTENER_H
#define AF_UTIL_LISTENER_H

#include <stddef.h>

/*
 * Listen on host:port (port 0: an ephemeral one) with the given backlog:
 * a non-blocking, close-on-exec socket with SO_REUSEADDR, so that a
 * restarted server does not wait for its predecessor's TIME_WAIT sockets.
 * With reuse_port, also SO_REUSEPORT: several sockets of this process (one
 * per worker) listen on the same port and the kernel spreads connections
 * over them.
 * Returns the descriptor (the caller owns it) and stores the bound port in
 * *bound_port; on failure returns -1 with "cannot resolve HOST: why" or
 * "cannot listen on HOST:PORT: why" in err.
 */
int af_listen_tcp(const char *host, int port, int backlog, int reuse_port,
                  int *bound_port, char *err, size_t errlen);

/*
 * Write "PORT\n" to path through a temporary file and a rename, so a
 * reader polling for the file never sees it half-written.  Returns 0, or
 * -1 with errno set.
 */
int af_port_file_write(const char *path, int port);

#endif
