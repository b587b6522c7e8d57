// The games part of the room state (snapshot.games, voiceroom/games/core.py GamesSnapshot)
// kept current by games events (docs/protocol.md 4.4). No DOM: unit-tested in node.
// state.js merges these handlers into its own table.

export const GAMES_HANDLERS = {
  "lottery.opened": (g, b) => { g.lottery = b; g.lottery_eligible = false; },
  "lottery.drawn": (g, b) => { g.seen_commitment ??= {}; g.lottery = null; g.last_draw = b; },
  "lottery.cancelled": (g, b) => { g.lottery = null; g.cancelled = b; },
  "guess.opened": (g, b) => { g.guess = b; g.guess_count = 0; g.your_guess = null; },
  "guess.yours": (g, b) => { g.your_guess = b.amount; },
  "guess.count": (g, b) => { if (g.guess?.id === b.id) g.guess_count = b.guesses; },
  "guess.revealed": (g, b) => { g.guess = null; g.guess_price = null; g.last_guess = b; },
  "vote.opened": (g, b) => { g.vote = b; g.vote_tallies = b.options.map(() => 0); g.your_vote = null; },
  "vote.yours": (g, b) => { g.your_vote = b.option; },
  "vote.tally": (g, b) => { if (g.vote?.id === b.id) g.vote_tallies = b.tallies; },
  "vote.closed": (g, b) => { g.vote = null; g.vote_tallies = null; g.last_vote = b; },
  "leaderboard.updated": (g, b) => { g.leaderboard = { ...g.leaderboard, [b.board]: b.top }; },
  "checkin.done": (g, b, st) => {
    if (b.user === st.you.user) g.streak = { day: b.day, count: b.streak };
    g.feed = [...(g.feed ?? []).slice(-2), { kind: "checkin", ...b }];
  },
  "score.yours": (g, b) => { g.your_points = b.points; g.interactions = b.interactions; },
  "tier.earned": (g, b) => { g.feed = [...(g.feed ?? []).slice(-2), { kind: "tier", ...b }]; },
  "prompt.shown": (g, b) => {
    g.prompt = b;
    if (b.n != null) g.scheduled_prompts = (g.scheduled_prompts ?? []).filter((x) => x.n !== b.n);
  },
  "prompt.scheduled": (g, b) => { g.scheduled_prompts = [...(g.scheduled_prompts ?? []), b]; },
  "market.changed": (g, b) => { g.market_zone = b.zone; },
};

export function emptyGames() {
  return { leaderboard: {}, tiers: {}, market_zone: "UTC", feed: [], verified: {} };
}

/** Fold one games event (or member.tier) into the state; false if not ours. */
export function applyGamesEvent(st, type, body) {
  if (type === "member.tier") {
    const m = st.members?.get(body.user);
    if (m) m.tier = body.tier;
    if (st.you?.user === body.user) st.you.tier = body.tier;
    for (const seat of st.seats ?? []) if (seat.user === body.user) seat.tier = body.tier;
    return true;
  }
  const handler = GAMES_HANDLERS[type];
  if (!handler) return false;
  st.games ??= emptyGames();
  if (type === "lottery.opened") {
    // Remember each commitment as first seen, to check the draw against it later.
    st.games.seen_commitment = { ...st.games.seen_commitment, [body.id]: body.commitment };
  }
  handler(st.games, body, st);
  return true;
}
