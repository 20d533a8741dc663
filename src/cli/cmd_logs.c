#include "cli.h"
int cmd_logs(int argc, char **argv) { (void)argc; (void)argv; return 2; }
