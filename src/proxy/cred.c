/*
 * The credential store: secrets loaded on the host, placeholders for the
 * agent, and the rewrite of a request head that puts a secret in only on
 * a request to an endpoint the credential is bound to.
 *
 * Where secrets live.  All of them sit in one anonymous private mapping,
 * one fixed-size slot each, read straight into it (a file with read(2), a
 * variable with one copy out of the environment), so no heap buffer or
 * stack array ever holds one during loading.  The mapping is mlock()ed
 * when RLIMIT_MEMLOCK allows (not swapped out), MADV_DONTDUMP (not in a
 * core file), and read-only once loaded; credstore_free wipes it.  A head
 * that holds a secret is the caller's to wipe after sending (has_secret);
 * every intermediate buffer this file fills is wiped before it is freed.
 *
 * Why the rewrite fails closed.  The agent knows every placeholder (they
 * are in its environment) but none of the secrets; the only thing it could
 * try is to send a placeholder where it does not belong, hoping the secret
 * goes with it.  So a placeholder of a credential that is not bound to the
 * entry the request was allowed under stops the request (-1) instead of
 * being passed on or stripped: the agent learns which credential was
 * refused where, and nothing is sent.
 */
#include "cred.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* One secret's slot: the secret, a "\r\n" to strip, and room to see that a file was longer. */
#define SLOT (CRED_SECRET_MAX + 8)
#define PREFIX_LEN (sizeof(CRED_PLACEHOLDER_PREFIX) - 1)

struct cred {
	char *name;
	char *env_name;			/* sandbox_env, or NULL */
	char *placeholder;
	size_t placeholder_len;
	char *header_name;		/* or NULL */
	char *tmpl_pre, *tmpl_post;	/* the header template around "{}" */
	struct strv bound;		/* network_policies keys, sorted */
	const char *secret;		/* in the store's mapping, not NUL-terminated */
	size_t secret_len;
};

struct credstore {
	struct cred *v;
	size_t n;
	char *region;			/* n slots, or NULL when n == 0 */
	size_t region_len;
	bool locked;
};

/* ---- loading -------------------------------------------------------------- */

/* Why a secret cannot go into an HTTP header, or NULL.  Never quotes it. */
static const char *
secret_problem(const char *s, size_t n)
{
	if (n == 0)
		return "is empty";
	if (n > CRED_SECRET_MAX)
		return "is longer than 8192 bytes";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return "contains a byte that is not printable ASCII (a control character, "
			    "a line break inside, or non-ASCII text)";
	if (s[0] == ' ' || s[n - 1] == ' ')
		return "begins or ends with a space";
	return NULL;
}

static int
secret_from_env(const struct credential *cr, char *slot, size_t *len, struct werr *err)
{
	const char *s = getenv(cr->from_env);
	size_t n;

	if (!s)
		return werr_set(err, "credential '%s': environment variable %s is not set",
		    cr->name, cr->from_env);
	if ((n = strnlen(s, CRED_SECRET_MAX + 1)) == 0)
		return werr_set(err, "credential '%s': environment variable %s is empty",
		    cr->name, cr->from_env);
	if (n > CRED_SECRET_MAX)
		return werr_set(err, "credential '%s': environment variable %s holds more than "
		    "8192 bytes", cr->name, cr->from_env);
	memcpy(slot, s, n);
	*len = n;
	return 0;
}

/*
 * The file must be the user's own (or root's) and private to its owner:
 * a secret other users can read or replace is not a secret warden should
 * hand out.  O_NOFOLLOW refuses a symbolic link as the last component;
 * O_NONBLOCK keeps a FIFO from blocking the open until fstat refuses it.
 */
static int
secret_from_file(const struct credential *cr, char *slot, size_t *len, struct werr *err)
{
	const char *path = cr->from_file;
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t n = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && errno == ELOOP)
		return werr_set(err, "credential '%s': from_file %s is a symbolic link; name the "
		    "file itself", cr->name, path);
	if (fd < 0)
		return werr_sys(err, "credential '%s': from_file %s", cr->name, path);
	if (fstat(fd, &st) < 0)
		return werr_sys(err, "credential '%s': from_file %s: fstat", cr->name, path);
	if (!S_ISREG(st.st_mode))
		return werr_set(err, "credential '%s': from_file %s is not a regular file",
		    cr->name, path);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return werr_set(err, "credential '%s': from_file %s is owned by uid %u, not by "
		    "you (uid %u) or root", cr->name, path, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return werr_set(err, "credential '%s': from_file %s has mode %04o: group and "
		    "others must have no access (chmod 600 %s)", cr->name, path,
		    (unsigned)(st.st_mode & 07777), path);
	if (st.st_size > (off_t)CRED_FILE_MAX)
		return werr_set(err, "credential '%s': from_file %s is larger than 64 KiB",
		    cr->name, path);
	while (n < SLOT) {
		ssize_t r = read(fd, slot + n, SLOT - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return werr_sys(err, "credential '%s': from_file %s: read", cr->name, path);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	/* One line ending, as editors and `echo` leave it; anything more is refused below. */
	if (n >= 1 && slot[n - 1] == '\n') {
		n--;
		if (n >= 1 && slot[n - 1] == '\r')
			n--;
	}
	if (n > CRED_SECRET_MAX)
		return werr_set(err, "credential '%s': the secret in %s is longer than 8192 bytes",
		    cr->name, path);
	*len = n;
	return 0;
}

static int
make_placeholder(struct cred *c, struct werr *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	char txt[33];
	size_t got = 0;

	while (got < sizeof(rnd)) {
		ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return werr_sys(err, "credential '%s': getrandom", c->name);
		got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		txt[2 * i] = hex[rnd[i] >> 4];
		txt[2 * i + 1] = hex[rnd[i] & 15];
	}
	txt[32] = '\0';
	c->placeholder = xasprintf(CRED_PLACEHOLDER_PREFIX "%s-%s", c->name, txt);
	c->placeholder_len = strlen(c->placeholder);
	return 0;
}

/* Copy what the store needs from the policy; the policy may be replaced later. */
static void
copy_credential(struct cred *c, const struct credential *cr)
{
	c->name = xstrdup(cr->name);
	c->env_name = cr->sandbox_env ? xstrdup(cr->sandbox_env) : NULL;
	if (cr->header_name) {
		const char *brace = strstr(cr->header_template, "{}");

		c->header_name = xstrdup(cr->header_name);
		c->tmpl_pre = xstrndup(cr->header_template, (size_t)(brace - cr->header_template));
		c->tmpl_post = xstrdup(brace + 2);
	}
	for (size_t i = 0; i < cr->network_policies.n; i++)
		strv_push(&c->bound, cr->network_policies.v[i]);
	strv_sort_uniq(&c->bound);
}

static int
map_region(struct credstore *cs, struct werr *err)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pg = page > 0 ? (size_t)page : 4096;
	void *m;

	cs->region_len = (cs->n * SLOT + pg - 1) / pg * pg;
	m = mmap(NULL, cs->region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		cs->region_len = 0;
		return werr_sys(err, "credentials: mmap");
	}
	cs->region = m;
	/* Best effort: the default RLIMIT_MEMLOCK may be too small, and that is not fatal. */
	cs->locked = mlock(m, cs->region_len) == 0;
	(void)madvise(m, cs->region_len, MADV_DONTDUMP);
	return 0;
}

struct credstore *
credstore_load(const struct policy *p, struct werr *err)
{
	struct credstore *cs = xcalloc(1, sizeof(*cs));

	if (p->ncreds == 0)
		return cs;
	cs->v = xcalloc(p->ncreds, sizeof(*cs->v));
	cs->n = p->ncreds;
	for (size_t i = 0; i < p->ncreds; i++)
		copy_credential(&cs->v[i], &p->creds[i]);
	if (map_region(cs, err) < 0)
		goto fail;
	for (size_t i = 0; i < cs->n; i++) {
		const struct credential *cr = &p->creds[i];
		struct cred *c = &cs->v[i];
		char *slot = cs->region + i * SLOT;
		const char *prob;
		size_t len = 0;

		if ((cr->from_env ? secret_from_env(cr, slot, &len, err) :
		    secret_from_file(cr, slot, &len, err)) < 0)
			goto fail;
		if ((prob = secret_problem(slot, len))) {
			if (cr->from_env)
				werr_set(err, "credential '%s': the secret in environment variable %s %s",
				    cr->name, cr->from_env, prob);
			else
				werr_set(err, "credential '%s': the secret in %s %s", cr->name,
				    cr->from_file, prob);
			goto fail;
		}
		c->secret = slot;
		c->secret_len = len;
		if (make_placeholder(c, err) < 0)
			goto fail;
	}
	if (mprotect(cs->region, cs->region_len, PROT_READ) < 0) {
		werr_sys(err, "credentials: mprotect");
		goto fail;
	}
	return cs;
fail:
	credstore_free(cs);
	return NULL;
}

void
credstore_free(struct credstore *cs)
{
	if (!cs)
		return;
	if (cs->region) {
		/* Writable again to wipe; should that fail, unmapping still drops the pages. */
		if (mprotect(cs->region, cs->region_len, PROT_READ | PROT_WRITE) == 0)
			OPENSSL_cleanse(cs->region, cs->region_len);
		if (cs->locked)
			munlock(cs->region, cs->region_len);
		munmap(cs->region, cs->region_len);
	}
	for (size_t i = 0; i < cs->n; i++) {
		struct cred *c = &cs->v[i];

		free(c->name);
		free(c->env_name);
		free(c->placeholder);
		free(c->header_name);
		free(c->tmpl_pre);
		free(c->tmpl_post);
		strv_free(&c->bound);
	}
	free(cs->v);
	free(cs);
}

size_t
credstore_count(const struct credstore *cs)
{
	return cs ? cs->n : 0;
}

const char *
credstore_env_name(const struct credstore *cs, size_t i)
{
	return cs && i < cs->n ? cs->v[i].env_name : NULL;
}

const char *
credstore_placeholder(const struct credstore *cs, size_t i)
{
	return cs && i < cs->n ? cs->v[i].placeholder : NULL;
}

const char *
credstore_name(const struct credstore *cs, size_t i)
{
	return cs && i < cs->n ? cs->v[i].name : NULL;
}

static bool
is_bound(const struct cred *c, const char *entry_key)
{
	size_t lo = 0, hi = c->bound.n;

	if (!entry_key)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(c->bound.v[mid], entry_key);

		if (r == 0)
			return true;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool
credstore_binds(const struct credstore *cs, const char *entry_key)
{
	for (size_t i = 0; cs && i < cs->n; i++)
		if (is_bound(&cs->v[i], entry_key))
			return true;
	return false;
}

/* ---- finding placeholders ------------------------------------------------- */

/* The credential whose placeholder starts at s (n bytes left), or -1; the longest wins. */
static ssize_t
match_at(const struct credstore *cs, const char *s, size_t n)
{
	ssize_t best = -1;

	for (size_t i = 0; i < cs->n; i++) {
		const struct cred *c = &cs->v[i];

		if (c->placeholder_len <= n && memcmp(s, c->placeholder, c->placeholder_len) == 0 &&
		    (best < 0 || c->placeholder_len > cs->v[best].placeholder_len))
			best = (ssize_t)i;
	}
	return best;
}

ssize_t
credstore_find_placeholder(const struct credstore *cs, const char *data, size_t n)
{
	const char *s = data, *end = data + n;

	if (!cs || cs->n == 0 || !data)
		return -1;
	while ((size_t)(end - s) >= PREFIX_LEN &&
	    (s = memmem(s, (size_t)(end - s), CRED_PLACEHOLDER_PREFIX, PREFIX_LEN))) {
		ssize_t i = match_at(cs, s, (size_t)(end - s));

		if (i >= 0)
			return i;
		s++;
	}
	return -1;
}

/* ---- rewriting a head ----------------------------------------------------- */

/*
 * Output buffer for text that may hold a secret: growing it copies into a
 * new allocation and wipes the old one (realloc could leave a copy behind
 * in freed memory).  Bounded like struct sbuf: past max, `over` is set.
 */
struct obuf {
	char *p;
	size_t len, cap, max;
	bool over;
};

static void
ob_init(struct obuf *o, size_t cap, size_t max)
{
	o->cap = cap < 64 ? 64 : cap;
	o->p = xmalloc(o->cap);
	o->p[0] = '\0';
	o->len = 0;
	o->max = max;
	o->over = false;
}

static void
ob_add(struct obuf *o, const char *s, size_t n)
{
	if (o->over || n > o->max - o->len) {
		o->over = true;
		return;
	}
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap;
		char *np;

		while (o->len + n + 1 > cap)
			cap *= 2;
		np = xmalloc(cap);
		memcpy(np, o->p, o->len);
		OPENSSL_cleanse(o->p, o->cap);
		free(o->p);
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
ob_wipe(struct obuf *o)
{
	if (o->p) {
		OPENSSL_cleanse(o->p, o->cap);
		free(o->p);
	}
	memset(o, 0, sizeof(*o));
}

/* One rewrite in progress. */
struct apply {
	const struct credstore *cs;
	const char *entry_key;
	bool *used;		/* per credential: its secret is in the output */
	ssize_t mismatch;	/* the unbound credential seen, or -1 */
};

/*
 * A request-target cannot hold every printable byte: RFC 3986 has no
 * place for space, '"', '#', '<', '>', '\', '^', '`', '{', '|' or '}'.
 * Those bytes of a secret are percent-encoded there, so a secret never
 * changes where the request line ends.
 */
static void
add_target_secret(struct obuf *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		char enc[3] = { '%', hex[(unsigned char)s[i] >> 4], hex[(unsigned char)s[i] & 15] };

		if (strchr(" \"#<>\\^`{|}", s[i]))
			ob_add(o, enc, 3);
		else
			ob_add(o, s + i, 1);
	}
}

/*
 * Copy s[0..n) to o, replacing each placeholder of a credential bound to
 * the entry by its secret.  -1 (a->mismatch set) on a placeholder of a
 * credential that is not bound.
 */
static int
subst(struct apply *a, const char *s, size_t n, bool in_target, struct obuf *o)
{
	const char *end = s + n, *run = s, *hit;

	while ((size_t)(end - run) >= PREFIX_LEN &&
	    (hit = memmem(run, (size_t)(end - run), CRED_PLACEHOLDER_PREFIX, PREFIX_LEN))) {
		ssize_t i = match_at(a->cs, hit, (size_t)(end - hit));
		const struct cred *c;

		if (i < 0) {
			/* A look-alike: copy through its first byte and look again after it. */
			ob_add(o, run, (size_t)(hit - run) + 1);
			run = hit + 1;
			continue;
		}
		c = &a->cs->v[i];
		if (!is_bound(c, a->entry_key)) {
			a->mismatch = i;
			return -1;
		}
		ob_add(o, run, (size_t)(hit - run));
		if (in_target)
			add_target_secret(o, c->secret, c->secret_len);
		else
			ob_add(o, c->secret, c->secret_len);
		a->used[i] = true;
		run = hit + c->placeholder_len;
	}
	ob_add(o, run, (size_t)(end - run));
	return 0;
}

static int
b64_val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/*
 * Strict base64 (RFC 4648 alphabet; padding optional, but only at the
 * end).  Returns the decoded length in out (owned, to be wiped), or -1
 * when s is not base64: such a value is then passed on untouched.
 */
static ssize_t
b64_decode(const char *s, size_t n, char **out)
{
	size_t pad = 0, bits = 0, len = 0;
	uint32_t acc = 0;
	char *d;

	while (pad < 2 && n > 0 && s[n - 1] == '=') {
		n--;
		pad++;
	}
	if (n == 0 || n % 4 == 1 || (pad && (n + pad) % 4 != 0))
		return -1;
	d = xmalloc(n / 4 * 3 + 3);
	for (size_t i = 0; i < n; i++) {
		int v = b64_val((unsigned char)s[i]);

		if (v < 0) {
			OPENSSL_cleanse(d, n / 4 * 3 + 3);
			free(d);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			d[len++] = (char)((acc >> bits) & 0xff);
		}
	}
	*out = d;
	return (ssize_t)len;
}

static void
b64_encode(struct obuf *o, const unsigned char *s, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = al[(v >> 18) & 63];
		q[1] = al[(v >> 12) & 63];
		q[2] = i + 1 < n ? al[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? al[v & 63] : '=';
		ob_add(o, q, 4);
		OPENSSL_cleanse(&v, sizeof(v));
		OPENSSL_cleanse(q, sizeof(q));
	}
}

/*
 * The value of an Authorization header (after the colon): "Basic TOKEN"
 * whose decoded user:password holds a placeholder gets the same rule
 * inside, and is encoded again.  Returns 1 when handled, 0 when the value
 * is not such a value (the caller substitutes as in any header), -1 on a
 * mismatch.
 */
static int
basic_auth(struct apply *a, const char *v, size_t n, struct obuf *o)
{
	size_t i = 0, tb, te;
	char *dec = NULL;
	ssize_t dn;
	struct obuf in;
	int r;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (n - i < 6 || strncasecmp(v + i, "basic", 5) != 0 || (v[i + 5] != ' ' && v[i + 5] != '\t'))
		return 0;
	for (tb = i + 5; tb < n && (v[tb] == ' ' || v[tb] == '\t'); tb++)
		;
	for (te = n; te > tb && (v[te - 1] == ' ' || v[te - 1] == '\t'); te--)
		;
	if ((dn = b64_decode(v + tb, te - tb, &dec)) < 0)
		return 0;
	if (!memmem(dec, (size_t)dn, CRED_PLACEHOLDER_PREFIX, PREFIX_LEN)) {
		OPENSSL_cleanse(dec, (size_t)dn);
		free(dec);
		return 0;
	}
	ob_init(&in, (size_t)dn + CRED_SECRET_MAX, (size_t)dn + 64 * (CRED_SECRET_MAX + 1));
	r = subst(a, dec, (size_t)dn, false, &in);
	OPENSSL_cleanse(dec, (size_t)dn);
	free(dec);
	if (r == 0) {
		ob_add(o, v, tb);	/* " Basic " as the client wrote it */
		b64_encode(o, (const unsigned char *)in.p, in.len);
		ob_add(o, v + te, n - te);
		o->over |= in.over;
	}
	ob_wipe(&in);
	return r < 0 ? -1 : 1;
}

/* Does a bound credential set this header (so the line the agent sent is dropped)? */
static bool
injected_header(const struct apply *a, const char *name, size_t nl)
{
	for (size_t i = 0; i < a->cs->n; i++) {
		const struct cred *c = &a->cs->v[i];

		if (c->header_name && strlen(c->header_name) == nl &&
		    strncasecmp(c->header_name, name, nl) == 0 && is_bound(c, a->entry_key))
			return true;
	}
	return false;
}

/* One header line without its CRLF. */
static int
header_line(struct apply *a, const char *l, size_t n, struct obuf *o)
{
	const char *colon = memchr(l, ':', n);
	size_t nl, vl;
	struct obuf drop;
	int r;

	if (!colon || colon == l)
		return -1;
	nl = (size_t)(colon - l);
	vl = n - nl - 1;
	if (injected_header(a, l, nl)) {
		/* Dropped, but still checked: a misplaced placeholder is refused wherever it is. */
		ob_init(&drop, n + 1, SIZE_MAX / 2);
		r = nl == 13 && strncasecmp(l, "authorization", 13) == 0 ?
		    basic_auth(a, colon + 1, vl, &drop) : 0;
		if (r == 0)
			r = subst(a, colon + 1, vl, false, &drop);
		ob_wipe(&drop);
		return r < 0 ? -1 : 0;
	}
	ob_add(o, l, nl + 1);
	r = nl == 13 && strncasecmp(l, "authorization", 13) == 0 ?
	    basic_auth(a, colon + 1, vl, o) : 0;
	if (r == 0)
		r = subst(a, colon + 1, vl, false, o);
	if (r < 0)
		return -1;
	ob_add(o, "\r\n", 2);
	return 0;
}

static void
inject_headers(struct apply *a, struct obuf *o)
{
	for (size_t i = 0; i < a->cs->n; i++) {
		const struct cred *c = &a->cs->v[i];

		if (!c->header_name || !is_bound(c, a->entry_key))
			continue;
		ob_add(o, c->header_name, strlen(c->header_name));
		ob_add(o, ": ", 2);
		ob_add(o, c->tmpl_pre, strlen(c->tmpl_pre));
		ob_add(o, c->secret, c->secret_len);
		ob_add(o, c->tmpl_post, strlen(c->tmpl_post));
		ob_add(o, "\r\n", 2);
		a->used[i] = true;
	}
}

/*
 * Walk the head line by line.  -1 with a->mismatch == -1 when it is not
 * shaped as the proxy builds heads: a request line, header lines, an
 * empty line that ends the buffer, CRLF after each.
 */
static int
rewrite(struct apply *a, const char *h, size_t len, struct obuf *o)
{
	const char *end = h + len, *l = h;
	bool first = true;

	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0)
		return -1;
	for (;;) {
		const char *crlf = memmem(l, (size_t)(end - l), "\r\n", 2);
		size_t n = (size_t)(crlf - l);

		if (n == 0) {
			if (first || crlf + 2 != end)
				return -1;
			break;
		}
		if (first) {
			if (subst(a, l, n, true, o) < 0)
				return -1;
			ob_add(o, "\r\n", 2);
			first = false;
		} else if (header_line(a, l, n, o) < 0) {
			return -1;
		}
		l = crlf + 2;
	}
	inject_headers(a, o);
	ob_add(o, "\r\n", 2);
	return o->over ? -1 : 0;
}

static void
set_used(const struct credstore *cs, const bool *used, struct cred_result *res)
{
	size_t at = 0;

	for (size_t i = 0; i < cs->n; i++) {
		size_t nl = strlen(cs->v[i].name), sep = at ? 1 : 0;

		if (!used[i])
			continue;
		res->has_secret = true;
		if (at + sep + nl + 1 > sizeof(res->used))
			continue;	/* the list is for the record; the request is unaffected */
		if (sep)
			res->used[at++] = ',';
		memcpy(res->used + at, cs->v[i].name, nl);
		at += nl;
		res->used[at] = '\0';
	}
}

int
credstore_apply(const struct credstore *cs, const char *entry_key, struct sbuf *head,
    struct cred_result *res)
{
	struct apply a = { .cs = cs, .entry_key = entry_key, .mismatch = -1 };
	struct obuf o;
	int r;

	memset(res, 0, sizeof(*res));
	if (!cs || cs->n == 0)
		return 0;
	a.used = xcalloc(cs->n, sizeof(*a.used));
	ob_init(&o, head->len + 512, head->max);
	r = rewrite(&a, head->p, head->len, &o);
	if (r < 0) {
		if (a.mismatch >= 0)
			snprintf(res->mismatch, sizeof(res->mismatch), "%s", cs->v[a.mismatch].name);
		ob_wipe(&o);
		free(a.used);
		return -1;
	}
	set_used(cs, a.used, res);
	free(a.used);
	if (!res->has_secret) {
		/* Nothing went in, so nothing changed: keep the caller's buffer. */
		ob_wipe(&o);
		return 0;
	}
	OPENSSL_cleanse(head->p, head->cap);
	free(head->p);
	head->p = o.p;
	head->len = o.len;
	head->cap = o.cap;
	head->overflow = false;
	return 0;
}

int
credstore_add_header(const struct credstore *cs, const char *name, const char *header,
    const char *prefix, struct sbuf *head)
{
	for (size_t i = 0; cs && i < cs->n; i++) {
		const struct cred *c = &cs->v[i];

		if (strcmp(c->name, name) != 0)
			continue;
		/* The credential's own header template wins over the format's usual one. */
		if (c->header_name) {
			sbuf_adds(head, c->header_name);
			sbuf_adds(head, ": ");
			sbuf_adds(head, c->tmpl_pre);
			sbuf_add(head, c->secret, c->secret_len);
			sbuf_adds(head, c->tmpl_post);
		} else {
			sbuf_adds(head, header);
			sbuf_adds(head, ": ");
			sbuf_adds(head, prefix);
			sbuf_add(head, c->secret, c->secret_len);
		}
		sbuf_adds(head, "\r\n");
		return 0;
	}
	return -1;
}
