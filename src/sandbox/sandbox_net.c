/*
 * The sandbox's network: loopback only, plus the proxy's doorways.
 *
 * init creates, inside the new network namespace, the listening sockets
 * the agent reaches the proxy through (3128 HTTP, 1080 SOCKS5, 80 for
 * http://inference.local) and a sock_diag netlink
 * socket for attribution, and passes all three to the supervisor before
 * the agent exists.  A socket's network namespace is fixed when it is
 * created, so the supervisor can accept on them and query the sandbox's
 * socket table from outside without ever entering the namespace.  The
 * agent cannot close or replace them: they live in another process, and
 * their ports are taken before it starts.
 */
#include "sb_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../proxy/proxy.h"

int
net_loopback_up(struct werr *err)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return werr_sys(err, "loopback: socket");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		werr_sys(err, "bring up lo");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
listen_on(uint16_t port, struct werr *err)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return werr_sys(err, "proxy socket");
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* No SO_REUSEPORT: nothing else may ever bind this port in the sandbox. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4096) < 0) {
		werr_sys(err, "proxy: listen on 127.0.0.1:%u", (unsigned)port);
		close(fd);
		return -1;
	}
	return fd;
}

int
net_proxy_sockets(int fds[NET_NFDS], struct werr *err)
{
	static const uint16_t ports[] = {
		[NET_FD_HTTP] = PROXY_HTTP_PORT, [NET_FD_SOCKS] = PROXY_SOCKS_PORT,
		[NET_FD_INFER] = PROXY_INFER_PORT,
	};

	for (int i = 0; i < NET_NFDS; i++)
		fds[i] = -1;
	/*
	 * Port 80 is privileged, but init still holds every capability of the
	 * sandbox's own user namespace, which owns this network namespace.
	 */
	for (int i = 0; i < NET_FD_DIAG; i++)
		if ((fds[i] = listen_on(ports[i], err)) < 0)
			goto fail;
	fds[NET_FD_DIAG] = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fds[NET_FD_DIAG] < 0) {
		werr_sys(err, "sock_diag socket");
		goto fail;
	}
	return 0;
fail:
	for (int i = 0; i < NET_NFDS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return -1;
}
