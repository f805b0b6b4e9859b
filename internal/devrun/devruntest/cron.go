package devruntest

import (
	"testing"

	"github.com/zerocost/zerocost/internal/stack/stacktest"
)

// NewYearCron is the second cron of CronProject's ticker: its scheduled
// hook throws on it.
const NewYearCron = "0 0 1 1 *"

// CronProject writes a project of stack "cron" and returns its folder.
// Product ticker has two crons, every and NewYearCron, and a scheduled hook
// that throws on NewYearCron and otherwise tells the model which cron ran
// when: it calls ANTHROPIC_BASE_URL with a message naming token (a script
// token of the stand-in) and {cron, at}. Product quiet has no cron.
func CronProject(t testing.TB, every, token string) string {
	t.Helper()
	return stacktest.Project(t, "cron", `config:
  zerocost:accountId: 0123456789abcdef0123456789abcdef
  zerocost:products:
    - name: ticker
      pattern: event-agent
      systemPrompt: Answer in one word.
      hooks: hooks/ticker.ts
      crons: ["`+every+`", "`+NewYearCron+`"]
    - name: quiet
      pattern: edge-cache
      systemPrompt: Answer in one word.
`, map[string]string{
		"hooks/ticker.ts": `import type { Hooks } from "zerocost:hooks";
export const scheduled: NonNullable<Hooks["scheduled"]> = async (env, controller) => {
  const e = env as unknown as Record<string, string>;
  if (controller.cron === "` + NewYearCron + `") throw new Error("the new-year cron fails");
  const res = await fetch(e.ANTHROPIC_BASE_URL + "/v1/messages", {
    method: "POST",
    headers: { "x-api-key": e.ANTHROPIC_API_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json" },
    body: JSON.stringify({
      model: "m", max_tokens: 5,
      messages: [{ role: "user", content: "` + token + ` " + JSON.stringify({ cron: controller.cron, at: controller.scheduledTime }) }],
    }),
  });
  await res.text();
};
`,
	})
}
