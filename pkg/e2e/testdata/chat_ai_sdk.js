// The Vercel AI SDK (ai with @ai-sdk/openai, in chat mode) through the
// proxy's Chat Completions front door: generateText and streamText, each with
// a tool the model calls and whose result goes back for the answer. Prints one
// JSON line of what it got, which chat_clients_test.go checks. NODE_PATH is
// the node_modules holding the SDK, PROXY_URL the proxy (the SDK appends
// /chat/completions: the route without /v1), CLIENT_KEY the client key.
const { generateText, streamText, tool, stepCountIs } = require("ai");
const { createOpenAI } = require("@ai-sdk/openai");
const { z } = require("zod");

const openai = createOpenAI({ baseURL: process.env.PROXY_URL, apiKey: process.env.CLIENT_KEY });
const model = openai.chat("gpt-5");
const executed = [];
const tools = {
  get_weather: tool({
    description: "The weather in a city.",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      executed.push(city);
      return { city, sky: "clear" };
    },
  }),
};
const prompt = "What is the weather in Paris?";
const calls = (steps) => steps.flatMap((s) => s.toolCalls.map((c) => ({ name: c.toolName, input: c.input })));

(async () => {
  const gen = await generateText({ model, tools, prompt, stopWhen: stepCountIs(3), maxRetries: 0 });
  const st = streamText({ model, tools, prompt, stopWhen: stepCountIs(3), maxRetries: 0 });
  let deltas = "";
  for await (const part of st.fullStream) {
    if (part.type === "text-delta") deltas += part.text;
    if (part.type === "error") throw part.error;
  }
  const steps = await st.steps, usage = await st.totalUsage;
  console.log(JSON.stringify({
    generate: {
      text: gen.text, finishReason: gen.finishReason, steps: gen.steps.length, toolCalls: calls(gen.steps),
      usage: { input: gen.totalUsage.inputTokens, output: gen.totalUsage.outputTokens },
    },
    stream: {
      text: await st.text, deltas, finishReason: await st.finishReason, steps: steps.length, toolCalls: calls(steps),
      usage: { input: usage.inputTokens, output: usage.outputTokens },
    },
    executed,
  }));
})().catch((e) => { console.error(String((e && e.stack) || e)); process.exit(1); });
