// An MCP server built with the official TypeScript SDK
// (@modelcontextprotocol/sdk, low-level `Server`) whose tools write down what
// they received: the upstream behind `writ-gate mcp` in gateway.test.mjs.
//
//     node upstream.mjs LOG              # over stdio
//     node upstream.mjs LOG http         # Streamable HTTP (stateless) on a free port;
//                                        # prints `listening on URL` when ready
//
// Each tool call appends one JSON line to LOG: the tool, its arguments and
// the `_meta` keys it got (a writ must never be among them).
import { appendFileSync } from "node:fs";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createServer } from "node:http";
import { CallToolRequestSchema, ListToolsRequestSchema, McpError, ErrorCode } from "@modelcontextprotocol/sdk/types.js";

const log = process.argv[2];
if (!log) {
  console.error("usage: node upstream.mjs LOG [http]");
  process.exit(2);
}

const str = { type: "string" };
const TOOLS = [
  {
    name: "refund",
    description: "Refund `amount` in `currency`.",
    inputSchema: { type: "object", properties: { amount: { type: "integer" }, currency: str }, required: ["amount", "currency"] },
    run: (a) => `refunded ${a.amount} ${a.currency}`,
  },
  {
    name: "read_file",
    description: "Read a file of the project.",
    inputSchema: { type: "object", properties: { path: str }, required: ["path"] },
    run: (a) => `contents of ${a.path}`,
  },
  {
    name: "delete_everything",
    description: "Delete every file (no writ should ever permit this).",
    inputSchema: { type: "object", properties: {} },
    run: () => "deleted",
  },
  {
    name: "deploy",
    description: "Deploy the current release (needs a person's approval).",
    inputSchema: { type: "object", properties: {} },
    run: () => "deployed",
  },
];

function mcpServer() {
  const server = new Server({ name: "writ-ts-upstream", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: TOOLS.map(({ name, description, inputSchema }) => ({ name, description, inputSchema })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const tool = TOOLS.find((t) => t.name === req.params.name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `no tool ${req.params.name}`);
    const args = req.params.arguments ?? {};
    const meta = Object.keys(req.params._meta ?? {}).sort();
    // Over HTTP, the headers the call arrived with (a writ must not be among them either).
    const headers = Object.keys(extra?.requestInfo?.headers ?? {}).sort();
    appendFileSync(log, JSON.stringify({ tool: tool.name, args, meta, headers }) + "\n");
    return { content: [{ type: "text", text: tool.run(args) }] };
  });
  return server;
}

if (process.argv[3] === "http") {
  // Stateless Streamable HTTP: a server and a transport per request.
  const http = createServer(async (req, res) => {
    try {
      let body = "";
      for await (const chunk of req) body += chunk;
      const server = mcpServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on("close", () => {
        transport.close();
        server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body ? JSON.parse(body) : undefined);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500).end(String(e));
    }
  });
  http.listen(0, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${http.address().port}/mcp`));
} else {
  await mcpServer().connect(new StdioServerTransport());
}
