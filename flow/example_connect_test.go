package flow_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/eddy-streams/eddy/flow"
)

// Route payments over a card's spending limit to a review queue.
func ExampleNewSideOutput() {
	job := flow.NewJob("spend-limit")
	payments := flow.FromSlice(job, "payments", []Payment{
		{Card: "4000-01", Merchant: "grocer", Cents: 12_000},
		{Card: "4000-01", Merchant: "electronics", Cents: 45_000},
		{Card: "4000-01", Merchant: "bakery", Cents: 600},
	}, flow.SourceOptions[Payment]{})
	overLimit := flow.NewSideOutput[Payment]("over-limit")
	perCard := flow.KeyBy(payments, func(p Payment) string { return p.Card })
	approved := flow.Process(perCard, "limit", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, Payment, Payment] {
		spent := flow.NewValueState[int64](rt, "spent")
		return flow.KeyedProcessor[string, Payment, Payment]{
			Element: func(ctx *flow.ProcessContext[string, Payment], p Payment) {
				s, _ := spent.Value()
				if s+p.Cents > 50_000 {
					overLimit.Emit(ctx, p)
					return
				}
				spent.Update(s + p.Cents)
				ctx.Emit(p)
			},
		}
	})
	review := flow.SideStream(approved, overLimit)
	ok, held := flow.Collect(approved), flow.Collect(review)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	for _, p := range ok.Values() {
		fmt.Println("approved:", p.Merchant, euros(p.Cents))
	}
	for _, p := range held.Values() {
		fmt.Println("review:", p.Merchant, euros(p.Cents))
	}
	// Output:
	// approved: grocer €120.00
	// approved: bakery €6.00
	// review: electronics €450.00
}

// Reconcile card authorizations with settlements from the card network, whichever
// arrives first.
func ExampleCoProcess() {
	type auth struct {
		Txn   string
		Cents int64
	}
	type settlement auth
	job := flow.NewJob("reconcile")
	auths := flow.FromSlice(job, "authorizations", []auth{{"tx-1", 2_500}, {"tx-2", 8_000}, {"tx-3", 1_200}}, flow.SourceOptions[auth]{})
	// tx-3 is not settled yet: its authorization waits in state.
	settled := flow.FromSlice(job, "settlements", []settlement{{"tx-2", 8_000}, {"tx-1", 2_750}}, flow.SourceOptions[settlement]{})
	both := flow.Connect(
		flow.KeyBy(auths, func(a auth) string { return a.Txn }),
		flow.KeyBy(settled, func(s settlement) string { return s.Txn }))
	checked := flow.CoProcess(both, "reconcile", func(rt *flow.Runtime[string]) flow.CoProcessor[string, auth, settlement, string] {
		authorized := flow.NewValueState[int64](rt, "authorized")
		settledAt := flow.NewValueState[int64](rt, "settled")
		// match runs after either half arrives; the one that comes first waits in state.
		match := func(ctx *flow.ProcessContext[string, string]) {
			a, okA := authorized.Value()
			s, okS := settledAt.Value()
			if !okA || !okS {
				return
			}
			authorized.Clear()
			settledAt.Clear()
			verdict := "ok"
			if a != s {
				verdict = fmt.Sprintf("mismatch: authorized %s, settled %s", euros(a), euros(s))
			}
			ctx.Emit(ctx.Key() + " " + verdict)
		}
		return flow.CoProcessor[string, auth, settlement, string]{
			Element1: func(ctx *flow.ProcessContext[string, string], a auth) { authorized.Update(a.Cents); match(ctx) },
			Element2: func(ctx *flow.ProcessContext[string, string], s settlement) { settledAt.Update(s.Cents); match(ctx) },
		}
	})
	out := flow.Collect(checked)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	got := out.Values() // transactions complete in any order
	slices.Sort(got)
	for _, s := range got {
		fmt.Println(s)
	}
	// Output:
	// tx-1 mismatch: authorized €25.00, settled €27.50
	// tx-2 ok
}

// Decline payments at merchants that the risk team blocks while the job runs.
func ExampleProcessBroadcast() {
	type block struct {
		Merchant string
		Since    int64 // event time from which the block applies
	}
	job := flow.NewJob("blocked-merchants", flow.JobOptions{Parallelism: 2})
	payments := flow.FromSlice(job, "payments", []Payment{
		{Card: "4000-01", Merchant: "m-shady", Time: 2_000},
		{Card: "4000-02", Merchant: "m-shady", Time: 7_000},
		{Card: "4000-03", Merchant: "m-coffee", Time: 8_000},
	}, flow.SourceOptions[Payment]{Timestamp: Payment.EventTime, Watermarks: flow.Monotonous()})
	blocks := flow.FromSlice(job, "blocks", []block{{"m-shady", 5_000}},
		flow.SourceOptions[block]{Timestamp: func(b block) int64 { return b.Since }, Watermarks: flow.Monotonous()})
	perCard := flow.KeyBy(payments, func(p Payment) string { return p.Card })
	decisions := flow.ProcessBroadcast(perCard, blocks, "screen", func(rt *flow.Runtime[string]) flow.BroadcastProcessor[string, Payment, block, string] {
		blockedSince := flow.NewBroadcastState[string, int64](rt, "blocked-since")
		pending := flow.NewMapState[int64, []Payment](rt, "pending")
		return flow.BroadcastProcessor[string, Payment, block, string]{
			// Every subtask sees every block.
			Broadcast: func(_ *flow.ProcessContext[string, string], b block) { blockedSince.Put(b.Merchant, b.Since) },
			// Payments and blocks race each other: a payment waits until the watermark,
			// the minimum over both inputs, passes it. By then every block in force at
			// its time has arrived.
			Element: func(ctx *flow.ProcessContext[string, string], p Payment) {
				ps, _ := pending.Get(p.Time)
				pending.Put(p.Time, append(ps, p))
				ctx.SetEventTimer(p.Time)
			},
			Timer: func(ctx *flow.ProcessContext[string, string], t int64, _ flow.TimeDomain) {
				ps, _ := pending.Get(t)
				pending.Remove(t)
				for _, p := range ps {
					verdict := "approved"
					if since, ok := blockedSince.Get(p.Merchant); ok && since <= p.Time {
						verdict = "declined"
					}
					ctx.Emit(fmt.Sprintf("@%v %s at %s: %s", at(p.Time), p.Card, p.Merchant, verdict))
				}
			},
		}
	})
	out := flow.Collect(decisions)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	got := out.Values() // two subtasks decide concurrently
	slices.Sort(got)
	for _, s := range got {
		fmt.Println(s)
	}
	// Output:
	// @2s 4000-01 at m-shady: approved
	// @7s 4000-02 at m-shady: declined
	// @8s 4000-03 at m-coffee: approved
}
