/*
 * textfmt.h: the text a model reads for a rows result, when output.text_format asks for
 * something other than the JSON document: CSV (RFC 4180) or a Markdown table, built from the
 * rows JSON. structuredContent always carries the JSON.
 */
#ifndef PGMCP_TEXTFMT_H
#define PGMCP_TEXTFMT_H

#include <stddef.h>

#include "buf.h"

/* The order of output.text_format's values in config_keys[]. */
enum text_format {
	TEXT_FORMAT_JSON = 0,
	TEXT_FORMAT_CSV = 1,
	TEXT_FORMAT_MARKDOWN = 2,
};

/*
 * Appends the rows as CSV (header row, CRLF line ends, NULL as an empty field, an empty
 * string as "") or as a Markdown table (| escaped, line breaks as <br>, NULL as an empty
 * cell). columns is the JSON array of {"name","type"}; rows the JSON array of row objects
 * whose members follow the columns in order. json and jsonb values appear as JSON text.
 */
void textfmt_rows(enum text_format format, const char *columns, size_t columns_len,
    const char *rows, size_t rows_len, struct buf *out);

#endif
