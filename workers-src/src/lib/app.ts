// The part of fetch() every pattern shares: customer keys, the admin token,
// GET /health, routing, 404/405, HEAD wherever GET is routed, and turning
// errors into JSON.
import { ADMIN_ROUTES } from "../contract.gen";
import type { BaseEnv, PatternName } from "../env";
import type { Hooks } from "../hooks";
import { requireAuth } from "./auth";
import { keyed, requireKey } from "./keys";
import "../features";
import { readConfig } from "./config";
import { HttpError, json, notFound, toErrorResponse } from "./errors";
import { matchRoute, type Route } from "./http";
import { budgetStatus } from "./spend/guard";

/** A HEAD request's answer: the GET's status and headers, no body. */
function withoutBody(res: Response): Response {
  return new Response(null, { status: res.status, statusText: res.statusText, headers: res.headers });
}

export function createFetch<E extends BaseEnv>(pattern: PatternName, routes: Route<E>[]) {
  const all: Route<E>[] = [
    { path: "/health", GET: (_req, env) => json({ pattern, product: env.PRODUCT }) },
    // The spend guard's month (lib/spend/guard.ts), in a Worker of a stack with a budget.
    ...(__ZEROCOST_SPEND_GUARD__
      ? [{ path: ADMIN_ROUTES.budget.path, GET: async (_req: Request, env: E) => json(await budgetStatus(env, readConfig(env))) }]
      : []),
    ...routes,
  ];
  const answer = async (request: Request, env: E, ctx: ExecutionContext): Promise<Response> => {
    try {
      const { pathname } = new URL(request.url);
      const method = request.method.toUpperCase();
      if (pathname.startsWith("/admin/") && !env.AUTH_TOKEN) {
        // Never open: without a token anyone could read the spend or resume jobs.
        throw new HttpError(403, "forbidden", "admin routes need zerocost:authToken (the AUTH_TOKEN secret) to be set");
      }
      // The admin routes take the stack's AUTH_TOKEN; every other route but
      // GET (or HEAD) /health a customer key, unless the product is public.
      const health = (method === "GET" || method === "HEAD") && pathname === "/health";
      if (pathname.startsWith("/admin/")) await requireAuth(request, env.AUTH_TOKEN);
      else if (__ZEROCOST_KEYS__ && !health && keyed(env)) await requireKey(request, env);
      const hit = matchRoute(all, method, pathname);
      if (!hit) throw notFound(`no route for ${pathname}`);
      return await hit.handler(request, env, ctx, hit.params);
    } catch (err) {
      return toErrorResponse(err);
    }
  };
  return async (request: Request, env: E, ctx: ExecutionContext): Promise<Response> => {
    const res = await answer(request, env, ctx);
    return request.method.toUpperCase() === "HEAD" ? withoutBody(res) : res;
  };
}

export function createScheduled<E extends BaseEnv>(hooks: Hooks) {
  return async (controller: ScheduledController, env: E, ctx: ExecutionContext): Promise<void> => {
    if (hooks.scheduled) await hooks.scheduled(env, controller, ctx);
  };
}
