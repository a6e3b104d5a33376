#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "peer.h"

int
peer_find(int fd, char *buf, size_t n)
{
	struct sockaddr_storage	 ss;
	struct addr		 a;
	socklen_t		 len = sizeof(ss);
	const char		*env = NULL;
	void			*in = NULL;
	int			 one = 1;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			in = &((struct sockaddr_in *)&ss)->sin_addr;
		else if (ss.ss_family == AF_INET6)
			in = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	}
	if (in == NULL && (env = getenv("TCPREMOTEIP")) == NULL)
		env = getenv("REMOTE_ADDR");
	if (in != NULL) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (inet_ntop(ss.ss_family, in, buf, n) == NULL)
			in = NULL;
	}
	if (in == NULL && (env == NULL || strlen(env) >= n))
		env = "unknown";
	if (in == NULL)
		memcpy(buf, env, strlen(env) + 1);
	if (addr_parse(buf, &a) == 0)
		addr_format(&a, buf, n);
	return setenv("TCPREMOTEIP", buf, 1);
}

int
peer_told(int fd, char *buf, size_t n)
{
	const char	*told = getenv("TCPREMOTEIP");
	struct addr	 a;

	if (told == NULL || *told == '\0' || strlen(told) >= n)
		return peer_find(fd, buf, n);
	memcpy(buf, told, strlen(told) + 1);
	if (addr_parse(buf, &a) == 0)
		addr_format(&a, buf, n);
	return 0;
}

int
peer_is_loopback(const char *a)
{
	struct addr	ad;
	static const unsigned char one6[16] = { [15] = 1 };

	if (addr_parse(a, &ad) == -1)
		return 0;
	if (ad.family == 4)
		return ad.octet[0] == 127;
	return memcmp(ad.octet, one6, sizeof(one6)) == 0;
}
