/* hostaddr.c - classifying host names and addresses; see hostaddr.h. */
#include "pano/common/hostaddr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* inet_aton's reading, which getaddrinfo would make of s (no DNS). */
static bool aton_reads(const char *s, struct in_addr *out) { return inet_aton(s, out) != 0; }

static bool name_like(const char *s)
{
	size_t n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--; /* one trailing dot: the root */
	if (n == 0 || n > 253)
		return false;
	size_t start = 0;
	bool last_all_digits = false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
				return false;
			continue;
		}
		size_t len = i - start;
		if (len == 0 || len > 63 || s[start] == '-' || s[i - 1] == '-')
			return false;
		last_all_digits = true;
		for (size_t k = start; k < i; k++)
			last_all_digits = last_all_digits && is_digit(s[k]);
		start = i + 1;
	}
	return !last_all_digits;
}

hostaddr_kind hostaddr_classify(const char *s, char *canon, size_t canonlen)
{
	char buf[96];
	if (!s || !*s || strlen(s) > 253)
		return HOSTADDR_INVALID;
	if (strchr(s, ':')) {
		/* IPv6, with an optional %zone */
		char addr[64];
		const char *pct = strchr(s, '%');
		size_t alen = pct ? (size_t)(pct - s) : strlen(s);
		if (alen >= sizeof(addr) || (pct && (!pct[1] || strlen(pct) > 17)))
			return HOSTADDR_BAD;
		memcpy(addr, s, alen);
		addr[alen] = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, addr, &a6) != 1)
			return HOSTADDR_BAD;
		for (const char *z = pct ? pct + 1 : ""; *z; z++)
			if (!is_alnum(*z) && *z != '-' && *z != '_' && *z != '.')
				return HOSTADDR_BAD;
		inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
		size_t bl = strlen(buf);
		if (pct)
			snprintf(buf + bl, sizeof(buf) - bl, "%s", pct);
		if (canon)
			snprintf(canon, canonlen, "%s", buf);
		return strcmp(buf, s) == 0 ? HOSTADDR_ADDRESS : HOSTADDR_ALIAS;
	}
	struct in_addr a4;
	if (aton_reads(s, &a4)) {
		inet_ntop(AF_INET, &a4, buf, sizeof(buf));
		if (canon)
			snprintf(canon, canonlen, "%s", buf);
		return strcmp(buf, s) == 0 ? HOSTADDR_ADDRESS : HOSTADDR_ALIAS;
	}
	if (name_like(s))
		return HOSTADDR_NAME;
	/* digits and dots, or a name ending in an all-digit label: an address
	 * gone wrong, never a DNS name */
	bool numeric = true;
	for (const char *p = s; *p; p++)
		numeric = numeric && (is_digit(*p) || *p == '.');
	size_t n = strlen(s);
	const char *last = s + n;
	while (last > s && last[-1] == '.')
		last--;
	const char *label = last;
	while (label > s && label[-1] != '.')
		label--;
	bool digits_tail = label < last;
	for (const char *p = label; p < last; p++)
		digits_tail = digits_tail && is_digit(*p);
	if (numeric || digits_tail)
		return HOSTADDR_BAD;
	return HOSTADDR_INVALID;
}

const char *hostaddr_problem(const char *s, char *buf, size_t buflen)
{
	switch (hostaddr_classify(s, NULL, 0)) {
	case HOSTADDR_ADDRESS:
	case HOSTADDR_ALIAS:
	case HOSTADDR_NAME:
		return NULL;
	case HOSTADDR_BAD:
		snprintf(buf, buflen, "'%.100s' is not a valid %s address (nor a host name: those never end in a "
		         "number)", s, strchr(s, ':') ? "IPv6" : "IPv4");
		return buf;
	case HOSTADDR_INVALID:
		break;
	}
	snprintf(buf, buflen, "'%.100s' is neither an address nor a host name", s);
	return buf;
}
