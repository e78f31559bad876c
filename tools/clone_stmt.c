/* clone_stmt.c: the CLONE INSTANCE statement's lexer and parser, following MySQL's (sql_lex.cc
 * for comments, quoting and escapes; sql_yacc.yy's clone_stmt for the grammar; ER_PARSE_ERROR's
 * "near" text for errors). Pure: no I/O. */
#include "tools/clone_stmt.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tok_kind { TOK_END, TOK_WORD, TOK_QUOTED_IDENT, TOK_STRING, TOK_NUMBER, TOK_SYM };

struct tok {
	enum tok_kind kind;
	size_t start;       /* offset of the token's first byte: where "near" begins */
	char *text;         /* word, identifier or string after unquoting; NULL for END and SYM */
	char sym;
};

struct lexer {
	const char *s;
	size_t len, pos;
	unsigned exec_comments;   /* open executable comments (slash-star-bang): their contents are code */
	struct cfs_err *err;
	struct tok cur;
};

static int syntax_error_at(struct lexer *lx, size_t at)
{
	int line = 1;
	for (size_t i = 0; i < at && i < lx->len; i++)
		line += lx->s[i] == '\n';
	char near[CLONE_STMT_NEAR_MAX * 4 + 1];
	size_t n = 0, chars = 0;
	/* At most 80 characters, never cutting a UTF-8 sequence. */
	for (size_t i = at; i < lx->len && chars < CLONE_STMT_NEAR_MAX; chars++) {
		size_t w = 1;
		while (i + w < lx->len && ((unsigned char)lx->s[i + w] & 0xC0) == 0x80 && w < 4)
			w++;
		memcpy(near + n, lx->s + i, w);
		n += w;
		i += w;
	}
	near[n] = 0;
	return cfs_err_set(lx->err, ER_PARSE_ERROR, ER_PARSE_ERROR_MSG, near, line);
}

static int syntax_error(struct lexer *lx) { return syntax_error_at(lx, lx->cur.start); }

static bool at(const struct lexer *lx, size_t i, char c) { return i < lx->len && lx->s[i] == c; }

/* Whitespace and comments: '#' and "-- " to the end of the line, C comments; slash-star-bang with an
 * optional version number opens an executable comment whose contents are read as code, and its
 * closing star-slash is skipped. */
static int skip_space(struct lexer *lx)
{
	for (;;) {
		size_t p = lx->pos;
		if (p >= lx->len)
			return 0;
		unsigned char c = (unsigned char)lx->s[p];
		if (isspace(c)) {
			lx->pos++;
		} else if (c == '#' ||
			   (c == '-' && at(lx, p + 1, '-') &&
			    (p + 2 >= lx->len || isspace((unsigned char)lx->s[p + 2]) || iscntrl((unsigned char)lx->s[p + 2])))) {
			while (lx->pos < lx->len && lx->s[lx->pos] != '\n')
				lx->pos++;
		} else if (c == '/' && at(lx, p + 1, '*') && at(lx, p + 2, '!')) {
			lx->pos = p + 3;
			for (int d = 0; d < 6 && lx->pos < lx->len && isdigit((unsigned char)lx->s[lx->pos]); d++)
				lx->pos++;
			lx->exec_comments++;
		} else if (c == '/' && at(lx, p + 1, '*')) {
			const char *end = NULL;
			for (size_t i = p + 2; i + 1 < lx->len; i++)
				if (lx->s[i] == '*' && lx->s[i + 1] == '/') {
					end = lx->s + i;
					break;
				}
			if (!end)
				return syntax_error_at(lx, p);
			lx->pos = (size_t)(end - lx->s) + 2;
		} else if (c == '*' && at(lx, p + 1, '/') && lx->exec_comments) {
			lx->exec_comments--;
			lx->pos += 2;
		} else {
			return 0;
		}
	}
}

static bool ident_char(unsigned char c) { return isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

/* A quoted string or identifier starting at lx->pos (the quote). Strings take MySQL's backslash
 * escapes; every kind takes a doubled quote as one. */
static int lex_quoted(struct lexer *lx, char q)
{
	size_t start = lx->pos++;
	char *out = malloc(lx->len - start + 1);
	size_t n = 0;
	if (!out)
		return cfs_err_set(lx->err, CFS_ER_IO, "out of memory");
	while (lx->pos < lx->len) {
		char c = lx->s[lx->pos++];
		if (c == q) {
			if (at(lx, lx->pos, q)) {
				out[n++] = q;
				lx->pos++;
				continue;
			}
			out[n] = 0;
			lx->cur.text = out;
			return 0;
		}
		if (c == '\\' && q != '`' && lx->pos < lx->len) {
			char e = lx->s[lx->pos++];
			switch (e) {
			case '0': out[n++] = 0; break;
			case 'b': out[n++] = '\b'; break;
			case 'n': out[n++] = '\n'; break;
			case 'r': out[n++] = '\r'; break;
			case 't': out[n++] = '\t'; break;
			case 'Z': out[n++] = '\032'; break;
			case '%': case '_': out[n++] = '\\'; out[n++] = e; break; /* kept, as MySQL does */
			default: out[n++] = e; break;
			}
			continue;
		}
		out[n++] = c;
	}
	free(out);
	return syntax_error_at(lx, start);
}

/* The token after '@' that is not quoted: MySQL's hostname state takes letters, digits, '.', '_',
 * '$' and '-' (so 127.0.0.1 and db-1.example are one token). */
static int lex_hostname(struct lexer *lx)
{
	size_t start = lx->pos;
	while (lx->pos < lx->len && (ident_char((unsigned char)lx->s[lx->pos]) || lx->s[lx->pos] == '.' ||
				     lx->s[lx->pos] == '-'))
		lx->pos++;
	lx->cur.kind = TOK_WORD;
	lx->cur.start = start;
	lx->cur.text = strndup(lx->s + start, lx->pos - start);
	return lx->cur.text ? 0 : cfs_err_set(lx->err, CFS_ER_IO, "out of memory");
}

static int next(struct lexer *lx, bool hostname)
{
	free(lx->cur.text);
	memset(&lx->cur, 0, sizeof(lx->cur));
	if (skip_space(lx))
		return -1;
	lx->cur.start = lx->pos;
	if (lx->pos >= lx->len) {
		lx->cur.kind = TOK_END;
		return 0;
	}
	unsigned char c = (unsigned char)lx->s[lx->pos];
	if (c == '\'' || c == '"' || c == '`') {
		lx->cur.kind = c == '`' ? TOK_QUOTED_IDENT : TOK_STRING;
		return lex_quoted(lx, (char)c);
	}
	if (hostname && (ident_char(c) || c == '.' || c == '-'))
		return lex_hostname(lx);
	if (ident_char(c)) {
		size_t start = lx->pos;
		bool digits = true;
		while (lx->pos < lx->len && ident_char((unsigned char)lx->s[lx->pos])) {
			digits = digits && isdigit((unsigned char)lx->s[lx->pos]);
			lx->pos++;
		}
		lx->cur.kind = digits ? TOK_NUMBER : TOK_WORD;
		lx->cur.text = strndup(lx->s + start, lx->pos - start);
		return lx->cur.text ? 0 : cfs_err_set(lx->err, CFS_ER_IO, "out of memory");
	}
	lx->cur.kind = TOK_SYM;
	lx->cur.sym = (char)c;
	lx->pos++;
	return 0;
}

static bool is_kw(const struct lexer *lx, const char *kw)
{
	return lx->cur.kind == TOK_WORD && !strcasecmp(lx->cur.text, kw);
}

static bool is_sym(const struct lexer *lx, char c) { return lx->cur.kind == TOK_SYM && lx->cur.sym == c; }

/* Consume keyword kw, or a syntax error at the current token. */
static int expect_kw(struct lexer *lx, const char *kw)
{
	if (!is_kw(lx, kw))
		return syntax_error(lx);
	return next(lx, false);
}

/* Take the current token's text (an ident_or_text or a TEXT_STRING) and move on. */
static int take_text(struct lexer *lx, char **out, bool string_only, bool hostname_next)
{
	enum tok_kind k = lx->cur.kind;
	if (!(k == TOK_STRING || (!string_only && (k == TOK_WORD || k == TOK_QUOTED_IDENT))))
		return syntax_error(lx);
	*out = lx->cur.text;
	lx->cur.text = NULL;
	return next(lx, hostname_next);
}

static int name_length(struct cfs_err *err, const char *v, const char *what, int max)
{
	if (strlen(v) <= (size_t)max)
		return 0;
	return cfs_err_set(err, ER_WRONG_STRING_LENGTH, ER_WRONG_STRING_LENGTH_MSG, v, what, max);
}

static int parse_end(struct lexer *lx);

static int parse(struct lexer *lx, struct clone_stmt *st)
{
	if (next(lx, false) || expect_kw(lx, "CLONE"))
		return -1;
	if (is_kw(lx, "LOCAL")) {
		/* CLONE LOCAL DATA DIRECTORY [=] 'dir': the directory is not optional here. */
		st->local = true;
		if (next(lx, false) || expect_kw(lx, "DATA") || expect_kw(lx, "DIRECTORY"))
			return -1;
		if (is_sym(lx, '=') && next(lx, false))
			return -1;
		if (take_text(lx, &st->data_dir, true, false))
			return -1;
		return parse_end(lx);
	}
	if (expect_kw(lx, "INSTANCE") || expect_kw(lx, "FROM"))
		return -1;
	/* user: ident_or_text ['@' ident_or_text], the host '%' when it is left out. */
	if (lx->cur.kind != TOK_WORD && lx->cur.kind != TOK_QUOTED_IDENT && lx->cur.kind != TOK_STRING)
		return syntax_error(lx);
	st->user = lx->cur.text;
	lx->cur.text = NULL;
	if (skip_space(lx))
		return -1;
	bool at_follows = at(lx, lx->pos, '@');
	if (next(lx, false))
		return -1;
	if (at_follows) {
		if (next(lx, true) || take_text(lx, &st->host, false, false))
			return -1;
	} else if (!(st->host = strdup("%"))) {
		return cfs_err_set(lx->err, CFS_ER_IO, "out of memory");
	}
	if (name_length(lx->err, st->user, "user name", CLONE_STMT_USER_MAX) ||
	    name_length(lx->err, st->host, "host name", CLONE_STMT_HOST_MAX))
		return -1;
	if (!is_sym(lx, ':'))
		return syntax_error(lx);
	if (next(lx, false))
		return -1;
	if (lx->cur.kind != TOK_NUMBER)
		return syntax_error(lx);
	unsigned long port = strlen(lx->cur.text) <= 5 ? strtoul(lx->cur.text, NULL, 10) : 0;
	if (port == 0 || port > 65535)
		return cfs_err_set(lx->err, CFS_ER_USAGE, "port %.32s is not a TCP port (1-65535)", lx->cur.text);
	st->port = (unsigned)port;
	if (next(lx, false) || expect_kw(lx, "IDENTIFIED") || expect_kw(lx, "BY") ||
	    take_text(lx, &st->password, true, false))
		return -1;
	if (is_kw(lx, "DATA")) {
		if (next(lx, false) || expect_kw(lx, "DIRECTORY"))
			return -1;
		if (is_sym(lx, '=') && next(lx, false))
			return -1;
		if (take_text(lx, &st->data_dir, true, false))
			return -1;
	}
	if (is_kw(lx, "REQUIRE")) {
		if (next(lx, false))
			return -1;
		st->ssl = CLONE_SSL_REQUIRED;
		if (is_kw(lx, "NO")) {
			st->ssl = CLONE_SSL_NONE;
			if (next(lx, false))
				return -1;
		}
		if (expect_kw(lx, "SSL"))
			return -1;
	}
	return parse_end(lx);
}

/* What may follow the statement: semicolons, then nothing. */
static int parse_end(struct lexer *lx)
{
	while (is_sym(lx, ';'))
		if (next(lx, false))
			return -1;
	if (lx->cur.kind != TOK_END)
		return syntax_error(lx);
	if (lx->exec_comments) /* an executable comment left open: MySQL stops at the end, near '' */
		return syntax_error_at(lx, lx->len);
	return 0;
}

int clone_stmt_parse(const char *text, size_t len, struct clone_stmt *out, struct cfs_err *err)
{
	memset(out, 0, sizeof(*out));
	if (len > CLONE_STMT_TEXT_MAX)
		return cfs_err_set(err, CFS_ER_USAGE, "the statement is %zu bytes; at most %d are read", len,
				   CLONE_STMT_TEXT_MAX);
	struct lexer lx = { .s = text, .len = len, .err = err };
	int rc = parse(&lx, out);
	free(lx.cur.text);
	if (rc)
		clone_stmt_release(out);
	return rc;
}

void clone_stmt_release(struct clone_stmt *s)
{
	free(s->user);
	free(s->host);
	if (s->password)
		memset(s->password, 0, strlen(s->password));
	free(s->password);
	free(s->data_dir);
	memset(s, 0, sizeof(*s));
}
