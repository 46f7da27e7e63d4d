/* cli.h — what the deepc subcommands share: error printing and checked numeric flags. */
#ifndef DC_CLI_H
#define DC_CLI_H

/* Prints "deepc CMD: <the library's last error>" to stderr; returns 1 (the exit status). */
int dc_cli_fail(const char *cmd);
/* Prints "deepc CMD: <fmt with arg> (see 'deepc CMD --help')"; returns 2 (the exit status). */
int dc_cli_usage(const char *cmd, const char *fmt, const char *arg);
/* Parse flag value v as an integer / a number within [lo, hi]; on failure print what was expected
 * and return 1, else store it in *out and return 0. */
int dc_cli_long(const char *cmd, const char *flag, const char *v, long lo, long hi, long *out);
int dc_cli_float(const char *cmd, const char *flag, const char *v, double lo, double hi, double *out);

/* R-CNN (rcnn.c): `deepc proposals`, and the functions behind `deepc dettrain/dettest/detect
 * --model rcnn` (they take the flags after the subcommand, --model included). */
int dc_cli_proposals(int argc, char **argv);
int dc_cli_rcnn_train(int argc, char **argv);
int dc_cli_rcnn_test(int argc, char **argv);
int dc_cli_rcnn_detect(int argc, char **argv);

#endif
