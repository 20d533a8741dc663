#include "sandbox_inspect.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const ns_names[] = { "user", "mnt", "pid", "net", "ipc", "uts", "cgroup" };

static void
status_field(const char *status, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);

	snprintf(out, n, "?");
	for (const char *l = status; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, key, kl) == 0 && l[kl] == ':') {
			const char *v = l + kl + 1, *e;
			while (*v == ' ' || *v == '\t')
				v++;
			e = strchrnul(v, '\n');
			snprintf(out, n, "%.*s", (int)(e - v), v);
			for (char *c = out; *c; c++)
				if (*c == '\t')
					*c = ' ';
			return;
		}
}

static void
ns_link(pid_t pid, const char *ns, char *out, size_t n)
{
	char path[64];
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	r = readlink(path, out, n - 1);
	out[r < 0 ? 0 : r] = '\0';
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *
seccomp_name(const char *mode)
{
	return strcmp(mode, "2") == 0 ? "filter" : strcmp(mode, "1") == 0 ? "strict" :
	    strcmp(mode, "0") == 0 ? "disabled" : "unknown";
}

int
sandbox_inspect(const struct sb_state *st, bool json, FILE *out, struct werr *err)
{
	char init_pidns[128], path[PATH_MAX], ifaces[1024] = "";
	char *netdev = NULL;
	DIR *d;
	struct dirent *de;
	bool first = true;

	ns_link(st->init_pid, "pid", init_pidns, sizeof(init_pidns));
	if (!init_pidns[0])
		return werr_sys(err, "read namespaces of pid %d", st->init_pid);
	snprintf(path, sizeof(path), "/proc/%d/net/dev", st->init_pid);
	if (read_file(path, 1 << 16, &netdev, NULL, err) < 0)
		return -1;
	/* Lines after the two headers: "  lo: ..." */
	for (char *l = strchr(netdev, '\n'); l && (l = strchr(l + 1, '\n'));) {
		char *colon = strchr(l + 1, ':');
		char *name = l + 1;
		if (!colon)
			break;
		while (*name == ' ')
			name++;
		if (name >= colon)
			continue;
		snprintf(ifaces + strlen(ifaces), sizeof(ifaces) - strlen(ifaces), "%s%.*s",
		    ifaces[0] ? "," : "", (int)(colon - name), name);
	}
	free(netdev);

	if (json) {
		fprintf(out, "{\"name\":");
		json_str(out, st->name);
		fprintf(out, ",\"supervisor_pid\":%d,\"init_pid\":%d,\"policy_hash\":\"%s\","
		    "\"workdir\":", st->supervisor_pid, st->init_pid, st->policy_hash);
		json_str(out, st->workdir);
		fprintf(out, ",\"landlock_abi\":%d,\"landlock_scoped\":%s,\"limits\":\"%s\","
		    "\"net_interfaces\":\"%s\",\"processes\":[", st->landlock_abi,
		    st->landlock_scoped ? "true" : "false", st->limits, ifaces);
	} else {
		fprintf(out, "name:            %s\nsupervisor pid:  %d (outside every namespace)\n"
		    "init pid:        %d\npolicy hash:     %s\nworkdir:         %s\n"
		    "landlock:        %s (ABI %d%s)\nlimits:          %s\n"
		    "net interfaces:  %s\n\n", st->name, st->supervisor_pid, st->init_pid,
		    st->policy_hash, st->workdir, st->landlock_abi > 0 ? "applied" : "NOT applied",
		    st->landlock_abi, st->landlock_scoped ? ", signal+abstract-unix scoped" : "",
		    st->limits, ifaces);
		fprintf(out, "%-7s %-6s %-9s %-10s %-4s %-18s %-18s %-12s %s\n", "PID", "NSPID",
		    "SECCOMP", "NONEWPRIV", "UID", "CAPEFF", "CAPBND", "UIDMAP", "EXE / NAMESPACES");
	}

	d = opendir("/proc");
	if (!d)
		return werr_sys(err, "/proc");
	while ((de = readdir(d))) {
		char pidns[128], status_path[64], exe[PATH_MAX] = "", *status = NULL, *uidmap = NULL;
		char seccomp[16], nnp[16], uid[64], capeff[32], capbnd[32], nspid[64], nsline[512] = "";
		char host_ns[128], mine[128];
		struct werr e = { 0 };
		uint64_t v;
		pid_t pid;
		ssize_t r;

		if (parse_u64(de->d_name, &v) < 0)
			continue;
		pid = (pid_t)v;
		ns_link(pid, "pid", pidns, sizeof(pidns));
		if (strcmp(pidns, init_pidns) != 0)
			continue;
		snprintf(status_path, sizeof(status_path), "/proc/%d/status", pid);
		if (read_file(status_path, 1 << 16, &status, NULL, &e) < 0)
			continue;
		status_field(status, "Seccomp", seccomp, sizeof(seccomp));
		status_field(status, "NoNewPrivs", nnp, sizeof(nnp));
		status_field(status, "Uid", uid, sizeof(uid));
		status_field(status, "CapEff", capeff, sizeof(capeff));
		status_field(status, "CapBnd", capbnd, sizeof(capbnd));
		status_field(status, "NSpid", nspid, sizeof(nspid));
		free(status);
		uid[strcspn(uid, " ")] = '\0';
		{
			char *last = strrchr(nspid, ' ');
			if (last)
				memmove(nspid, last + 1, strlen(last));
		}
		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		r = readlink(path, exe, sizeof(exe) - 1);
		exe[r < 0 ? 0 : r] = '\0';
		if (r < 0)
			snprintf(exe, sizeof(exe), "?");
		snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
		if (read_file(path, 4096, &uidmap, NULL, &e) == 0) {
			char *c = uidmap;
			while (*c == ' ')
				c++;
			memmove(uidmap, c, strlen(c) + 1);
			uidmap[strcspn(uidmap, "\n")] = '\0';
			for (char *q = uidmap; *q; q++)
				if (*q == ' ' || *q == '\t') {
					char *w = q + 1;
					while (*w == ' ' || *w == '\t')
						w++;
					*q = ':';
					memmove(q + 1, w, strlen(w) + 1);
				}
		}
		for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++) {
			ns_link(getpid(), ns_names[i], host_ns, sizeof(host_ns));
			ns_link(pid, ns_names[i], mine, sizeof(mine));
			snprintf(nsline + strlen(nsline), sizeof(nsline) - strlen(nsline), "%s%s=%s",
			    i ? "," : "", ns_names[i], strcmp(host_ns, mine) ? "new" : "HOST");
		}
		if (json) {
			fprintf(out, "%s{\"pid\":%d,\"nspid\":%s,\"exe\":", first ? "" : ",", pid, nspid);
			json_str(out, exe);
			fprintf(out, ",\"seccomp\":\"%s\",\"no_new_privs\":%s,\"uid\":%s,"
			    "\"cap_eff\":\"%s\",\"cap_bnd\":\"%s\",\"uid_map\":\"%s\","
			    "\"namespaces\":\"%s\"}", seccomp_name(seccomp),
			    strcmp(nnp, "1") == 0 ? "true" : "false", uid, capeff, capbnd,
			    uidmap ? uidmap : "", nsline);
		} else {
			fprintf(out, "%-7d %-6s %-9s %-10s %-4s %-18s %-18s %-12s %s\n%61s%s\n", pid,
			    nspid, seccomp_name(seccomp), strcmp(nnp, "1") == 0 ? "yes" : "NO", uid,
			    capeff, capbnd, uidmap ? uidmap : "", exe, "", nsline);
		}
		first = false;
		free(uidmap);
	}
	closedir(d);
	if (json)
		fprintf(out, "]}\n");
	return 0;
}
