// The official Node SDK (openai on npm) through the proxy's Chat Completions
// front door. MODE picks what it does; it prints one JSON line of what it got,
// which chat_clients_test.go checks. SDK_PKG is the openai package directory,
// PROXY_URL the proxy, CLIENT_KEY the proxy's client key.
const OpenAI = require(process.env.SDK_PKG);
const client = new OpenAI({ baseURL: process.env.PROXY_URL + "/v1", apiKey: process.env.CLIENT_KEY, maxRetries: 0 });
const model = "gpt-5";
const tools = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  },
}];

// toolResult is what the "tool" answers: the city it was asked about.
const toolResult = (args) => JSON.stringify({ city: JSON.parse(args).city, sky: "clear" });

const modes = {
  // A plain answer (with an output cap), then a streamed one that asks for
  // its usage chunk.
  async chat() {
    const plain = await client.chat.completions.create({
      model, max_completion_tokens: 256, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hello" }],
    });
    const stream = await client.chat.completions.create({
      model, messages: [{ role: "user", content: "hello" }], stream: true, stream_options: { include_usage: true },
    });
    let deltas = "", chunks = 0, finish = "", usage = null, usageChunkChoices = -1, object = "", ids = new Set();
    for await (const c of stream) {
      chunks++;
      object = c.object;
      ids.add(c.id);
      for (const ch of c.choices) {
        if (ch.delta && ch.delta.content) deltas += ch.delta.content;
        if (ch.finish_reason) finish = ch.finish_reason;
      }
      if (c.usage) { usage = c.usage; usageChunkChoices = c.choices.length; }
    }
    return {
      plain: plain.choices[0].message.content, plainRole: plain.choices[0].message.role, plainObject: plain.object,
      plainModel: plain.model, plainFinish: plain.choices[0].finish_reason, plainUsage: plain.usage,
      deltas, chunks, object, ids: ids.size, finish, usage, usageChunkChoices,
    };
  },

  // Two tool-call round trips: one not streamed, then one streamed, each
  // sending the tool's result back for the answer.
  async tool() {
    const messages = [{ role: "user", content: "What is the weather in Paris?" }];
    const first = await client.chat.completions.create({ model, messages, tools, tool_choice: "auto" });
    const msg = first.choices[0].message;
    const call = msg.tool_calls[0];
    const second = await client.chat.completions.create({
      model, tools, messages: [...messages, msg, { role: "tool", tool_call_id: call.id, content: toolResult(call.function.arguments) }],
    });

    const stream = await client.chat.completions.create({ model, messages, tools, stream: true });
    const calls = [];
    let nameBeforeArgs = true, finish = "";
    for await (const c of stream) {
      for (const ch of c.choices) {
        if (ch.finish_reason) finish = ch.finish_reason;
        for (const tc of (ch.delta && ch.delta.tool_calls) || []) {
          const cur = calls[tc.index] || (calls[tc.index] = { index: tc.index, id: "", name: "", arguments: "" });
          if (tc.id) cur.id = tc.id;
          if (tc.function && tc.function.name) cur.name += tc.function.name;
          if (tc.function && tc.function.arguments) {
            if (!cur.name) nameBeforeArgs = false;
            cur.arguments += tc.function.arguments;
          }
        }
      }
    }
    const sc = calls[0];
    const assistant = { role: "assistant", content: null, tool_calls: [{ id: sc.id, type: "function", function: { name: sc.name, arguments: sc.arguments } }] };
    const third = await client.chat.completions.create({
      model, tools, stream: true, messages: [...messages, assistant, { role: "tool", tool_call_id: sc.id, content: toolResult(sc.arguments) }],
    });
    let streamAnswer = "";
    for await (const c of third) for (const ch of c.choices) if (ch.delta && ch.delta.content) streamAnswer += ch.delta.content;
    return {
      call: { id: call.id, name: call.function.name, arguments: call.function.arguments }, firstFinish: first.choices[0].finish_reason,
      answer: second.choices[0].message.content, streamCalls: calls.length, streamCall: sc, nameBeforeArgs, streamFinish: finish, streamAnswer,
    };
  },

  // Structured output: response_format json_schema.
  async json() {
    const r = await client.chat.completions.create({
      model, messages: [{ role: "user", content: "Answer yes." }],
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "answer", strict: true,
          schema: { type: "object", properties: { answer: { type: "string" } }, required: ["answer"], additionalProperties: false },
        },
      },
    });
    return { content: r.choices[0].message.content, parsed: JSON.parse(r.choices[0].message.content) };
  },
};

modes[process.env.MODE]().then(
  (r) => console.log(JSON.stringify(r)),
  (e) => { console.error(String((e && e.stack) || e)); process.exit(1); },
);
