/*
 * textfmt.c: rows JSON turned into CSV or a Markdown table for the text content of a result.
 * The input is pgmcp's own encoder output (well-formed, compact), walked in one pass: no
 * object tree, and duplicate column names keep their places.
 */
#include "textfmt.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum cell_kind { CELL_NULL, CELL_STRING, CELL_RAW };

struct walk {
	const char *p, *end;
};

static void
skip_ws(struct walk *k)
{
	while (k->p < k->end && (*k->p == ' ' || *k->p == '\t' || *k->p == '\n' || *k->p == '\r'))
		k->p++;
}

static bool
eat(struct walk *k, char c)
{
	skip_ws(k);
	if (k->p < k->end && *k->p == c) {
		k->p++;
		return true;
	}
	return false;
}

static unsigned
hex4(const char *s)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
	}
	return v;
}

static void
put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_append(b, u, n);
}

/* Decodes the JSON string at k->p (at its opening quote) into out. */
static void
read_string(struct walk *k, struct buf *out)
{
	k->p++;
	while (k->p < k->end && *k->p != '"') {
		const char *run = k->p;

		while (k->p < k->end && *k->p != '"' && *k->p != '\\')
			k->p++;
		buf_append(out, run, (size_t)(k->p - run));
		if (k->p >= k->end || *k->p == '"')
			break;
		if (k->end - k->p < 2)
			break;
		k->p++;	/* the backslash */
		switch (*k->p++) {
		case 'n': buf_putc(out, '\n'); break;
		case 'r': buf_putc(out, '\r'); break;
		case 't': buf_putc(out, '\t'); break;
		case 'b': buf_putc(out, '\b'); break;
		case 'f': buf_putc(out, '\f'); break;
		case 'u': {
			unsigned cp;

			if (k->end - k->p < 4)
				return;
			cp = hex4(k->p);
			k->p += 4;
			if (cp >= 0xD800 && cp < 0xDC00 && k->end - k->p >= 6 && k->p[0] == '\\' &&
			    k->p[1] == 'u') {
				unsigned lo = hex4(k->p + 2);

				if (lo >= 0xDC00 && lo < 0xE000) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					k->p += 6;
				}
			}
			if (cp >= 0xD800 && cp < 0xE000)
				cp = 0xFFFD;	/* a lone surrogate */
			put_utf8(out, cp);
			break;
		}
		default:	/* \" \\ \/ */
			buf_putc(out, k->p[-1]);
			break;
		}
	}
	if (k->p < k->end)
		k->p++;	/* the closing quote */
}

/* Moves past one value of any kind. */
static void
skip_value(struct walk *k)
{
	int depth = 0;

	skip_ws(k);
	do {
		if (k->p >= k->end)
			return;
		switch (*k->p) {
		case '"':
			k->p++;
			while (k->p < k->end && *k->p != '"')
				k->p += *k->p == '\\' ? 2 : 1;
			k->p++;
			break;
		case '{':
		case '[':
			depth++;
			k->p++;
			break;
		case '}':
		case ']':
			depth--;
			k->p++;
			break;
		default:
			if (depth == 0) {	/* a number or literal ends at a delimiter */
				while (k->p < k->end && !strchr(",}] \t\r\n", *k->p))
					k->p++;
				return;
			}
			k->p++;
			break;
		}
	} while (depth > 0);
}

/* Reads one value as a cell: a string decoded, anything else as its JSON text. */
static enum cell_kind
read_cell(struct walk *k, struct buf *cell)
{
	const char *start;

	buf_reset(cell);
	skip_ws(k);
	if (k->p >= k->end)
		return CELL_NULL;
	if (*k->p == '"') {
		read_string(k, cell);
		return CELL_STRING;
	}
	start = k->p;
	skip_value(k);
	if (k->p - start == 4 && memcmp(start, "null", 4) == 0)
		return CELL_NULL;
	buf_append(cell, start, (size_t)(k->p > start ? k->p - start : 0));
	return CELL_RAW;
}

static void
put_csv(struct buf *out, enum cell_kind kind, const struct buf *cell)
{
	bool quote = kind == CELL_STRING && cell->len == 0;	/* "" is an empty string; NULL is nothing */

	for (size_t i = 0; i < cell->len && !quote; i++)
		quote = strchr(",\"\r\n", cell->data[i]) != NULL && cell->data[i] != '\0';
	if (!quote) {
		buf_append(out, cell->data, cell->len);
		return;
	}
	buf_putc(out, '"');
	for (size_t i = 0; i < cell->len; i++) {
		if (cell->data[i] == '"')
			buf_putc(out, '"');
		buf_putc(out, cell->data[i]);
	}
	buf_putc(out, '"');
}

static void
put_markdown(struct buf *out, const struct buf *cell)
{
	for (size_t i = 0; i < cell->len; i++) {
		char c = cell->data[i];

		if (c == '|') {
			buf_puts(out, "\\|");
		} else if (c == '\r' || c == '\n') {
			buf_puts(out, "<br>");
			if (c == '\r' && i + 1 < cell->len && cell->data[i + 1] == '\n')
				i++;
		} else {
			buf_putc(out, c);
		}
	}
}

static void
put_cell(enum text_format format, struct buf *out, size_t index, enum cell_kind kind,
    const struct buf *cell)
{
	if (format == TEXT_FORMAT_CSV) {
		if (index > 0)
			buf_putc(out, ',');
		put_csv(out, kind, cell);
	} else {
		if (index == 0)
			buf_putc(out, '|');
		put_markdown(out, cell);
		buf_putc(out, '|');
	}
}

static void
end_line(enum text_format format, struct buf *out)
{
	buf_puts(out, format == TEXT_FORMAT_CSV ? "\r\n" : "\n");
}

/* The header from the columns array; returns the number of columns. */
static size_t
put_header(enum text_format format, const char *columns, size_t len, struct buf *out,
    struct buf *cell)
{
	struct walk k = { columns, columns + len };
	size_t n = 0;

	if (!eat(&k, '['))
		return 0;
	while (!eat(&k, ']') && k.p < k.end) {
		eat(&k, ',');
		if (!eat(&k, '{'))
			break;
		buf_reset(cell);
		while (!eat(&k, '}') && k.p < k.end) {
			struct buf key = BUF_INIT;

			eat(&k, ',');
			skip_ws(&k);
			if (k.p >= k.end || *k.p != '"')
				break;
			read_string(&k, &key);
			eat(&k, ':');
			if (key.len == 4 && memcmp(key.data, "name", 4) == 0)
				read_cell(&k, cell);
			else
				skip_value(&k);
			buf_free(&key);
		}
		put_cell(format, out, n++, CELL_STRING, cell);
	}
	if (n == 0)
		return 0;
	end_line(format, out);
	if (format == TEXT_FORMAT_MARKDOWN) {
		buf_putc(out, '|');
		for (size_t i = 0; i < n; i++)
			buf_puts(out, "---|");
		end_line(format, out);
	}
	return n;
}

void
textfmt_rows(enum text_format format, const char *columns, size_t columns_len, const char *rows,
    size_t rows_len, struct buf *out)
{
	struct buf cell = BUF_INIT;
	struct walk k = { rows, rows + rows_len };
	size_t ncols = put_header(format, columns, columns_len, out, &cell);

	if (ncols == 0 || !eat(&k, '[')) {
		buf_free(&cell);
		return;
	}
	while (!eat(&k, ']') && k.p < k.end) {
		size_t i = 0;

		eat(&k, ',');
		if (!eat(&k, '{'))
			break;
		while (!eat(&k, '}') && k.p < k.end) {
			enum cell_kind kind;

			eat(&k, ',');
			skip_ws(&k);
			if (k.p >= k.end || *k.p != '"')
				break;
			skip_value(&k);	/* the member name: the columns give the order */
			eat(&k, ':');
			kind = read_cell(&k, &cell);
			if (i < ncols)
				put_cell(format, out, i, kind, &cell);
			i++;
		}
		for (buf_reset(&cell); i < ncols; i++)
			put_cell(format, out, i, CELL_NULL, &cell);
		end_line(format, out);
	}
	buf_free(&cell);
}
