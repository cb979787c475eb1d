/* handlers.h: the MCP method handlers, each writing the members of its result object. */
#ifndef PGMCP_HANDLERS_H
#define PGMCP_HANDLERS_H

#include "mcp.h"

typedef void (*mcp_method_fn)(struct mcp_session *s, struct mcp_request *rq, struct jw *w);

/* tools.c */
void tools_build(struct mcp_session *s);
/* Builds cfg's tool catalog once for every later session (cfg must not change after). */
void tools_freeze(const struct config *cfg);
void tools_list(struct mcp_session *s, struct mcp_request *rq, struct jw *w);
void tools_call(struct mcp_session *s, struct mcp_request *rq, struct jw *w);
bool tools_is_known(const char *name);
size_t tools_count(const struct config *cfg);
const char *tools_name_at(const struct config *cfg, size_t i);

/* resources.c */
void resources_list(struct mcp_session *s, struct mcp_request *rq, struct jw *w);
void resources_templates_list(struct mcp_session *s, struct mcp_request *rq, struct jw *w);
void resources_read(struct mcp_session *s, struct mcp_request *rq, struct jw *w);
void resources_subscribe(struct mcp_session *s, struct mcp_request *rq, struct jw *w);
void completion_complete(struct mcp_session *s, struct mcp_request *rq, struct jw *w);

/* The resource URI of a table, its parts percent-encoded. */
void resources_table_uri(struct buf *out, const char *schema, const char *table);

/* prompts.c */
bool prompts_exists(const char *name);
bool prompts_declared(const struct config *cfg, const char *name);
void prompts_list(struct mcp_session *s, struct mcp_request *rq, struct jw *w);
void prompts_get(struct mcp_session *s, struct mcp_request *rq, struct jw *w);

#endif
