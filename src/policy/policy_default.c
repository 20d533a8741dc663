/*
 * The embedded default policy, used by `warden run` without --policy and
 * printed by `warden policy default`.  System directories are read-only,
 * the working directory is read-write, /tmp and HOME are private and empty,
 * and there is no egress at all (no network_policies).
 */
#include "policy.h"

static const char default_yaml[] =
    "# warden embedded default policy\n"
    "version: 1\n"
    "filesystem_policy:\n"
    "  include_workdir: true          # the working directory, read-write\n"
    "  read_only:                     # system directories\n"
    "    - /usr\n"
    "    - /bin\n"
    "    - /sbin\n"
    "    - /lib\n"
    "    - /lib64\n"
    "    - /etc\n"
    "  read_write: []                 # /tmp and HOME are always private tmpfs\n"
    "  deny:                          # masked even inside allowed trees\n"
    "    - /etc/shadow\n"
    "    - /etc/gshadow\n"
    "    - /etc/ssh\n"
    "    - /etc/sudoers\n"
    "    - /etc/sudoers.d\n"
    "landlock:\n"
    "  compatibility: best_effort\n"
    "process:\n"
    "  limits:\n"
    "    open_files: 4096\n"
    "network_policies: {}             # no egress\n";

const char *
policy_default_yaml(void)
{
	return default_yaml;
}
