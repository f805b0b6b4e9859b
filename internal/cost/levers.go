package cost

import (
	"fmt"
	"math"
)

// PromptCacheTTLSeconds is the lifetime of Anthropic's default (5-minute)
// prompt cache; each hit refreshes it.
const PromptCacheTTLSeconds = 300

// levers computes what prompt caching and the Message Batches API would save.
func levers(u *Usage, p *Prices) []Lever {
	out := []Lever{}
	for i := range u.Products {
		pu := &u.Products[i]
		// usd is the realtime calls' bill: what batch mode could halve.
		var calls, usd, batchUSD float64
		for _, mu := range pu.Models {
			mp, err := p.Model(mu.Model)
			if err != nil {
				continue
			}
			calls += mu.Calls
			full := mu.InputTokens*mp.TokenUSD(InputTokens) + mu.OutputTokens*mp.TokenUSD(OutputTokens) +
				mu.CacheReadTokens*mp.TokenUSD(CacheReadTokens) + mu.CacheWriteTokens*mp.TokenUSD(CacheWriteTokens)
			if mu.Batch {
				batchUSD += full * (1 - mp.BatchDiscount)
			} else {
				usd += full
			}
		}
		if pu.CachedPrefixTokens > 0 && len(pu.Models) == 1 {
			out = append(out, promptCaching(pu, p, calls, float64(u.Days)))
		}
		if pu.Pattern == AsyncPipeline && calls > 0 && len(pu.Models) > 0 {
			mp, err := p.Model(pu.Models[0].Model)
			if err != nil {
				continue
			}
			save := usd * mp.BatchDiscount
			note := fmt.Sprintf("the Message Batches API bills %s%% of every token price: settings.modelMode: batch would save $%s of the product's $%s model bill. Results then come back in minutes to hours (at most 24) instead of seconds.",
				trimZeros(round((1-mp.BatchDiscount)*100, 1)), money(save), money(usd))
			if usd == 0 && batchUSD > 0 {
				note = fmt.Sprintf("already in batch mode: its $%s model bill is at the Message Batches API's price, %s%% of realtime.", money(batchUSD), trimZeros(round((1-mp.BatchDiscount)*100, 1)))
			}
			out = append(out, Lever{Product: pu.Name, Lever: "batch_api", Applies: save > 0, SavingUSD: save, Note: note})
		}
	}
	return out
}

// promptCaching prices caching the shared prefix with the 5-minute cache. A
// call writes the cache when the previous call came more than 5 minutes
// earlier; with calls arriving at random (Poisson) at the month's average rate,
// that happens to a share exp(-rate * 300 s) of them. The others read it.
func promptCaching(pu *ProductUsage, p *Prices, calls, days float64) Lever {
	mu := pu.Models[0]
	mp, _ := p.Model(mu.Model)
	prefix := pu.CachedPrefixTokens
	l := Lever{Product: pu.Name, Lever: "prompt_caching"}
	if prefix < float64(mp.MinCacheTokens) {
		l.Note = fmt.Sprintf("prompt caching does not apply: the shared prefix (%s tokens) is below %s's minimum of %s cacheable tokens.",
			count(prefix), mu.Model, count(float64(mp.MinCacheTokens)))
		return l
	}
	if calls <= 0 {
		l.Note = "prompt caching does not apply: the product makes no model calls."
		return l
	}
	rate := calls / (days * 86400)
	writes := math.Max(1, calls*math.Exp(-rate*PromptCacheTTLSeconds))
	if writes > calls {
		writes = calls
	}
	hits := calls - writes
	without := calls * prefix * mp.TokenUSD(InputTokens)
	with := prefix * (writes*mp.TokenUSD(CacheWriteTokens) + hits*mp.TokenUSD(CacheReadTokens))
	l.SavingUSD = without - with
	l.Applies = l.SavingUSD > 0
	gap := 1 / rate / 60
	if l.Applies {
		l.Note = fmt.Sprintf("caching the %s-token prefix: about %s%% of calls would read it from the 5-minute cache (a call every %s minutes on average), saving $%s a month.",
			count(prefix), trimZeros(round(hits/calls*100, 0)), trimZeros(round(gap, 1)), money(l.SavingUSD))
	} else {
		l.Note = fmt.Sprintf("caching the %s-token prefix would cost $%s more a month: calls come every %s minutes on average, too far apart for the 5-minute cache, so most calls would pay the cache write (%s of the input price).",
			count(prefix), money(-l.SavingUSD), trimZeros(round(gap, 1)), trimZeros(round(mp.CacheWriteUSDPerMT/mp.InputUSDPerMTok, 2))+"x")
	}
	return l
}
