// What a stranger meets at the event agent's door: the per-caller limit
// (DOOR_LIMITER, lib/door.ts), HEAD wherever GET answers (lib/app.ts), and
// AUTH_TOKEN in front of the admin routes only.
import { describe, expect, it } from "vitest";
import { createWorker } from "../../src/patterns/event-agent";
import { call, doorLimiter, expectError, get, newToken, postJson, standin, testEnv } from "../helpers";

const worker = createWorker({});

describe("HEAD", () => {
  it("HEAD works wherever GET does: the GET's status and headers, no body", async () => {
    const health = await call(worker, new Request("https://worker.test/health", { method: "HEAD" }));
    expect(health.status).toBe(200);
    expect(health.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await health.text()).toBe("");
    const unknown = await call(worker, new Request("https://worker.test/jobs/not-a-job", { method: "HEAD" }));
    expect([unknown.status, await unknown.text()]).toEqual([404, ""]);
    const post = await call(worker, new Request("https://worker.test/jobs", { method: "HEAD" }));
    expect([post.status, post.headers.get("allow")]).toEqual([405, "POST"]);
  });
});

describe("the door (DOOR_LIMITER, per caller)", () => {
  it("one abusive caller meets 429 while another is served, before any job", async () => {
    const door = doorLimiter(3);
    // (The model limiter, product-wide, 3 a minute in the test config, let through.)
    const e = testEnv({ DOOR_LIMITER: door, RATE_LIMITER: { limit: async () => ({ success: true }) } });
    const t = newToken();
    const from = (ip: string, n: number) => call(worker, postJson("/jobs", { input: `door ${ip} ${n} ${t}` }, { "cf-connecting-ip": ip }), e);
    for (let i = 0; i < 3; i++) expect((await from("198.51.100.7", i)).status).toBe(202);
    const over = await from("198.51.100.7", 3);
    expect(over.headers.get("retry-after")).toBe("60");
    expect(await expectError(over, 429, "rate_limited")).toContain("from this caller");
    expect((await from("203.0.113.9", 0)).status).toBe(202);
    expect(door.keys).toEqual([...Array(4).fill("ip:198.51.100.7"), "ip:203.0.113.9"]);
    expect(await standin.calls(t)).toHaveLength(4); // the refused POST made no job
  });

  it("a failing door is a 503, and no job", async () => {
    const t = newToken();
    const e = testEnv({ DOOR_LIMITER: { limit: async () => { throw new Error("door down"); } } });
    await expectError(await call(worker, postJson("/jobs", { input: `nodoor ${t}` }), e), 503, "unavailable");
    expect(await standin.calls(t)).toHaveLength(0);
  });
});

describe("auth", () => {
  const e = () => testEnv({ AUTH_TOKEN: "s3cret-token" });

  it("is off when AUTH_TOKEN is unset", async () => {
    expect((await call(worker, postJson("/jobs", { input: `open ${newToken()}` }))).status).toBe(202);
  });

  it("guards the admin routes only: every wrong token is 401 there, the product's routes stay open", async () => {
    for (const auth of ["Bearer wrong", "Bearer s3cret-token-x", "Basic czNjcmV0LXRva2Vu", "s3cret-token", "Bearer "]) {
      const res = await call(worker, get("/admin/budget", { authorization: auth }), e());
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      await expectError(res, 401, "unauthorized");
    }
    expect((await call(worker, get("/admin/budget", { authorization: "bearer s3cret-token" }), e())).status).toBe(200);
    const ee = e();
    const res = await call(worker, postJson("/jobs", { input: `open ${newToken()}` }), ee);
    expect(res.status).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    expect((await call(worker, get(`/jobs/${job_id}`), ee)).status).toBe(200);
    expect((await call(worker, get("/health"), ee)).status).toBe(200);
  });
});
