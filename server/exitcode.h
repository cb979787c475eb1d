/* exitcode.h: the exit-code contract between pgmcp processes and whoever starts them. */
#ifndef PGMCP_EXITCODE_H
#define PGMCP_EXITCODE_H

#define EXIT_NORMAL 0	/* finished its work */
#define EXIT_CONFIG 1	/* bad configuration or usage: restarting will not help */
#define EXIT_USAGE 2	/* bad command line */
#define EXIT_SICK 3	/* database or resource trouble: worth restarting slowly */
/*
 * From a worker to its master only: this worker cannot use the configuration, so no
 * replacement could either; the master stops. Distinct from 1, which fatal(), sanitizers
 * and libraries also use and which the master treats as a crash to restart.
 */
#define EXIT_WORKER_CONFIG 78

#endif
