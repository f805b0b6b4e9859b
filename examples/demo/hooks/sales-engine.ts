// Hooks for the sales-engine product: the event-agent pattern calls these to build
// the model request and to shape the stored result, so the product is customised
// without forking the pattern. Types come from zerocost's Worker sources.
import type { Hooks } from "zerocost:hooks";

export const buildRequest: NonNullable<Hooks["buildRequest"]> = (input, ctx) => ({
  ...ctx.defaultRequest,
  max_tokens: Math.min(ctx.maxTokens, 300),
  messages: [{ role: "user", content: `Lead message:\n${input}` }],
});

export const shapeResult: NonNullable<Hooks["shapeResult"]> = (response) => {
  const text = response.content.map((b) => (b.type === "text" ? b.text : "")).join("");
  try {
    return { lead: JSON.parse(text) as unknown };
  } catch {
    return { lead: null, raw: text };
  }
};
