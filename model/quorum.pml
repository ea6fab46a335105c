/*
 * umbra's quorum-and-lease protocol (src/decide/quorum.ts), for spin.
 *
 * Three hosts, each a voter and a candidate (as in umbra), one service,
 * epochs 1..EMAX. The network is a set of in-flight messages: any message
 * may be delivered at any time, in any order, or dropped. Time is a global
 * discrete tick that fires whenever nothing else is forced; every timer is
 * kept as "ticks left" (not as an absolute deadline), so the state space is
 * finite without a bound on the clock and the search covers runs of any
 * length. See model/README.md for what is abstracted and why; in short:
 *  - one clock for all hosts, with the holder's lease no longer than the
 *    voters' grants (HLEASE <= LEASE): what holderLeaseMs's drift margin
 *    and actuationGuardMs buy in the code;
 *  - a message kind holds at most one message per (sender, receiver): a
 *    newer one replaces an older one still in flight (the older is lost);
 *  - messages to self are looped back at once;
 *  - rejects and certificates are not messages: a proposer may back off
 *    whenever some host has voted at or above its epoch, and a host may
 *    learn any certificate already formed, at any time (both over-approximate);
 *  - no crash/restart, no planned moves (handover, predicted), no ranks.
 *
 * Properties, checked after every step (check() below, so in every
 * reachable state):
 *   inv 1  at most one host has the VIP up, and at most one believes it
 *          holds a lease valid by its own clock;
 *   inv 2a no two certificates of one epoch name different holders;
 *   inv 2b the epoch a host accepts only grows, and so does its vote;
 *   plus the assertions of quorum.ts's checkInvariants and castVote.
 *
 * Broken variants (each must fail):
 *   -DBROKEN_DOUBLE_VOTE     a voter signs a second, different proposal of
 *                            an epoch it already voted in;
 *   -DBROKEN_NO_GRANT_WAIT   a voter votes for a new epoch while a lease it
 *                            granted still runs.
 */

#define N     3          /* hosts; all are voters and candidates */
#define MAJ   2          /* majority(3) */
#ifndef EMAX
#define EMAX  3          /* epochs 1..EMAX; scripts/check-model.sh runs 2 by default, 3 with --full */
#endif
#define E1    (EMAX + 1) /* array width for an epoch index 0..EMAX */
#ifndef LEASE
#define LEASE 1          /* config.leaseMs, in ticks: a voter's grant (2 also checked: see README) */
#endif
#ifndef HLEASE
#define HLEASE LEASE     /* holderLeaseMs(config), in ticks: <= LEASE (see README: drift) */
#endif
#define RMAX  1          /* renewals a holder keeps in flight (RENEWALS_IN_FLIGHT_MAX is 8): see README */
#define NONE  N          /* "no host" (null) */

/* Roles (quorum.ts Role). */
#define FOLLOWER  0
#define ACQUIRING 1
#define HOLDING   2
#define SAFEMODE  3

/* ------------------------------------------------------------ host state */
/* One entry per host; names follow QuorumState. */
byte epoch[N];            /* highest certified epoch seen; only grows */
byte holder[N];           /* holder named by that certificate (NONE before the first) */
byte votedEpoch[N];       /* one vote per (service, epoch) */
byte votedHolder[N];
byte votedProp[N];        /* proposer of the proposal voted for (votedProposal), NONE if null */
byte grantLeft[N];        /* grantUntilMs - now: promise not to vote for a newer epoch */
byte seenLeft[N];         /* holderSeenUntilMs - now */
byte pendP[N];            /* pendingProposal: proposer ... */
byte pendE[N];            /* ... and epoch (0: none) */
byte role[N];
bool vipUp[N];
byte leaseLeft[N];        /* leaseUntilMs - now, by the holder's clock */
bool renewed[N];          /* renewed in this tick already (renewIntervalMs is one tick) */
byte propE[N];            /* proposal.epoch (0: none) */
byte propLeft[N];         /* proposal.firstSentAtMs + holderLeaseMs - now */
byte propVotes[N];        /* bitmask of voters whose votes it holds */
byte renLeft[N * RMAX];   /* renewal.sentAtMs + holderLeaseMs - now */
byte renGrants[N * RMAX]; /* bitmask: renewal.grantedBy */
bool renUsed[N * RMAX];
byte renNext[N];          /* slot the next renewal takes (always 0 with RMAX 1) */

/* --------------------------------------------------------------- network */
/* Per kind, at most one message in flight per (sender, receiver), holding
 * its epoch (0: none); a newer send replaces an older one (which is lost).
 * What a propose carries besides its epoch is fixed by (proposer, epoch)
 * and lives in the ghost table propFrom. */
byte mProp[N * N];       /* propose  p -> v: epoch (0: none): index p*N + v */
byte mVote[N * N];        /* vote     v -> p: epoch (0: none): index v*N + p */
/* reject, certificate and cert-request are not messages here: see the
 * back-off in proposerTick and the "a certificate arrives" action. */
byte mRenew[N * N * RMAX];/* renew h -> v, slot s: epoch (0: none): index (h*N + v)*RMAX + s */
byte mGrant[N * N * RMAX];/* grant v -> h, slot s: epoch (0: none): index (v*N + h)*RMAX + s */

/* ---------------------------------------------------------------- ghosts */
byte propFrom[N * E1];    /* `from` of host p's proposal for epoch e (a proposer makes one per epoch) */
byte lastProp[N];         /* highest epoch host p has proposed (rejectedEpochMax keeps it from going back) */
byte certHolder[E1];      /* holder named by the certificate of epoch e (NONE: none yet) */

/* Scratch, reset to 0 at the end of every action so it never splits states. */
byte i, j, k, x, y, z, c, w;
bool ok;

#define PIDX(p, v)     ((p) * N + (v))
#define RIDX(h, v, s)  (((h) * N + (v)) * RMAX + (s))
#define SIDX(h, s)     ((h) * RMAX + (s))
#define BIT(n)         (1 << (n))
#define MAX(a, b)      ((a) > (b) -> (a) : (b))

inline countBits(mask, out) {
  out = ((mask) & 1) + (((mask) >> 1) & 1) + (((mask) >> 2) & 1)
}

/* Messages that can no longer have any effect are removed at once: the
 * state is the same as if they had been lost, and it keeps equal states
 * equal. (A dead message is one whose delivery is a no-op in every future.) */
inline gc() {
  k = 0;
  do
  :: k < N * N ->
     x = k / N; y = k % N;   /* sender, receiver */
     /* a propose x -> y of an epoch y has certified, or below its vote,
      * or (one vote per epoch) of the epoch it voted in for someone else */
     if
     :: mProp[k] != 0 && (mProp[k] <= epoch[y] || mProp[k] < votedEpoch[y]
#ifndef BROKEN_DOUBLE_VOTE
        || (mProp[k] == votedEpoch[y] && votedProp[y] != x)
#endif
        ) -> mProp[k] = 0
     :: else -> skip
     fi;
     /* a vote x -> y for an epoch y no longer gathers votes for (its proposals only grow) */
     if
     :: mVote[k] != 0 && mVote[k] != propE[y] -> mVote[k] = 0
     :: else -> skip
     fi;
     /* a renew x -> y below y's epoch (its only effect, showing x the certificate, is "a certificate arrives") */
     if
     :: mRenew[k] != 0 && mRenew[k] < epoch[y] -> mRenew[k] = 0
     :: else -> skip
     fi;
     /* a grant x -> y for an epoch y has left */
     if
     :: mGrant[k] != 0 && mGrant[k] != epoch[y] -> mGrant[k] = 0
     :: else -> skip
     fi;
     k++
  :: else -> break
  od;
  /* a pending proposal voterTick would discard */
  k = 0;
  do
  :: k < N ->
     if
     :: pendE[k] != 0 && (pendE[k] <= votedEpoch[k] || pendE[k] <= epoch[k]) -> pendE[k] = 0; pendP[k] = 0
     :: else -> skip
     fi;
     /* a renewal whose lease has run out can extend nothing: its grants are dead */
     if
     :: renUsed[k] && renLeft[k] == 0 ->
        renUsed[k] = 0; renGrants[k] = 0;
        mGrant[PIDX(0, k)] = 0; mGrant[PIDX(1, k)] = 0; mGrant[PIDX(2, k)] = 0
     :: else -> skip
     fi;
     k++
  :: else -> break
  od;
  /* the ghost `from` of a proposal nothing refers to any more */
  k = 0;
  do
  :: k < N * E1 ->
     x = k / E1; y = k % E1;   /* proposer, epoch */
     if
     :: propFrom[k] != NONE && propE[x] != y &&
        !(pendP[0] == x && pendE[0] == y) && !(pendP[1] == x && pendE[1] == y) && !(pendP[2] == x && pendE[2] == y) &&
        mProp[PIDX(x, 0)] != y && mProp[PIDX(x, 1)] != y && mProp[PIDX(x, 2)] != y -> propFrom[k] = NONE
     :: else -> skip
     fi;
     k++
  :: else -> break
  od;
  k = 0; x = 0; y = 0
}

inline check() {
  gc();
  /* inv 1 */
  assert((vipUp[0] + vipUp[1] + vipUp[2]) <= 1);
  assert(((holder[0] == 0 && role[0] == HOLDING && leaseLeft[0] > 0)
        + (holder[1] == 1 && role[1] == HOLDING && leaseLeft[1] > 0)
        + (holder[2] == 2 && role[2] == HOLDING && leaseLeft[2] > 0)) <= 1);
  /* quorum.ts checkInvariants */
  k = 0;
  do
  :: k < N ->
     assert(votedEpoch[k] >= epoch[k]);
     assert(!vipUp[k] || (holder[k] == k && role[k] == HOLDING && leaseLeft[k] > 0));
     assert(propE[k] == 0 || propE[k] > epoch[k]);
     k++
  :: else -> break
  od;
  k = 0
}

inline clearScratch() {
  i = 0; j = 0; k = 0; x = 0; y = 0; z = 0; c = 0; w = 0; ok = 0
}

/* holderLost(s), no restart modelled: the host's own view says the holder is gone. */
/* The highest epoch any host has voted in or certified. A reject carries
 * max(epoch, votedEpoch) of its sender at some earlier time, so
 * rejectedEpochMax is never above TOP: the model drops rejectedEpochMax and
 * lets a reject "arrive" whenever it could have (see proposerTick below). */
#define TOP  MAX(MAX(MAX(epoch[0], votedEpoch[0]), MAX(epoch[1], votedEpoch[1])), MAX(epoch[2], votedEpoch[2]))

/* Host n has proposed epoch e or a later one: after a back-off its next
 * proposal goes above (rejectedEpochMax >= the given-up epoch). */
#define PROPOSED_FROM(n, e)  (lastProp[n] >= (e))

#define HOLDER_LOST(n)  (grantLeft[n] == 0 && seenLeft[n] == 0)

/* mayVoteNow(s, p) for an unplanned proposal (initial or holder-lost). */
#ifdef BROKEN_NO_GRANT_WAIT
#define MAY_VOTE_NOW(n, from)  ((from) == NONE || HOLDER_LOST(n))
#else
#define MAY_VOTE_NOW(n, from)  (((from) == NONE || HOLDER_LOST(n)) && grantLeft[n] == 0)
#endif

/* reasonSupported(s, p): "initial" iff from is null, else "holder-lost". */
#define REASON_SUPPORTED(n, p, from) \
  (((from) == NONE && holder[n] == NONE) || \
   ((from) != NONE && (from) == holder[n] && (p) != holder[n]))

/* becomeHolderIfLeased (no planned moves, so takeNotBeforeMs never binds). */
inline becomeHolderIfLeased(n) {
  if
  :: leaseLeft[n] > 0 ->
     if
     :: role[n] == ACQUIRING || role[n] == SAFEMODE -> role[n] = HOLDING
     :: else -> skip
     fi;
     if
     :: role[n] == HOLDING && !vipUp[n] -> vipUp[n] = 1   /* take-vip */
     :: else -> skip
     fi
  :: else -> skip
  fi
}

inline clearRenewals(n) {
  renUsed[SIDX(n, 0)] = 0; renGrants[SIDX(n, 0)] = 0; renLeft[SIDX(n, 0)] = 0;
  renNext[n] = 0
}

/* adoptCertificate(s, fx, cert) */
inline adopt(n, e) {
  assert(e > epoch[n]);            /* inv 2b: epochs only grow */
  w = (holder[n] == n);            /* wasHolder */
  epoch[n] = e;
  holder[n] = certHolder[e];
  if
  :: pendE[n] != 0 && pendE[n] <= e -> pendE[n] = 0; pendP[n] = 0
  :: else -> skip
  fi;
  if
  :: propE[n] != 0 && propE[n] <= e -> propE[n] = 0; propVotes[n] = 0; propLeft[n] = 0
  :: else -> skip
  fi;
  if
  :: votedEpoch[n] < e -> votedEpoch[n] = e; votedHolder[n] = certHolder[e]; votedProp[n] = NONE
  :: else -> skip
  fi;
  if
  :: w && certHolder[e] != n ->
     vipUp[n] = 0;                 /* drop-vip: superseded */
     role[n] = FOLLOWER;
     leaseLeft[n] = 0;
     clearRenewals(n)
  :: else -> skip
  fi;
  if
  :: certHolder[e] == n -> role[n] = ACQUIRING; clearRenewals(n); leaseLeft[n] = 0
  :: else -> role[n] = FOLLOWER
  fi;
  w = 0
}

/* onVote: proposer p gets voter v's vote for epoch e. */
inline onVote(p, v, e) {
  if
  :: propE[p] == e && !(propVotes[p] & BIT(v)) ->
     propVotes[p] = propVotes[p] | BIT(v);
     countBits(propVotes[p], c);
     if
     :: c >= MAJ ->
        /* inv 2a: a certificate never contradicts another of the same epoch */
        assert(certHolder[e] == NONE || certHolder[e] == p);
        certHolder[e] = p;
        z = propLeft[p];             /* firstSentAtMs + holderLeaseMs - now */
        propE[p] = 0; propVotes[p] = 0; propLeft[p] = 0;
        adopt(p, e);
        leaseLeft[p] = z;
        becomeHolderIfLeased(p);
        renewed[p] = 0               /* lastRenewSentMs = -Infinity; the certificate goes to all: see "a certificate arrives" */
     :: else -> skip
     fi
  :: else -> skip
  fi
}

/* castVote(s, fx, p): persist, then send. Persist is atomic with the step (no crash modelled). */
inline castVote(n, p, e) {
  assert(e > epoch[n]);
  assert(e >= votedEpoch[n]);                         /* inv 2b: votes only grow */
#ifndef BROKEN_DOUBLE_VOTE
  assert(e > votedEpoch[n] || votedHolder[n] == p);   /* one vote per epoch (quorum.ts asserts it too) */
#endif
  votedEpoch[n] = e;
  votedHolder[n] = p;
  votedProp[n] = p;
  grantLeft[n] = LEASE;  /* max(grantUntil, now + lease): LEASE is the largest value it takes */
  if
  :: n == p -> onVote(p, n, e)       /* to self: the shell loops it back (here at once) */
  :: else -> mVote[PIDX(n, p)] = e     /* replaces an older vote still in flight (see README) */
  fi
}

/* onPropose: voter v gets proposer p's proposal of epoch e. */
inline onPropose(v, p, e) {
  c = propFrom[p * E1 + e];
  if
  :: e <= epoch[v] -> skip              /* reject + certificate: see those actions */
  :: e > epoch[v] && e == votedEpoch[v] ->
     if
     :: votedProp[v] == p -> castVote(v, p, e)       /* re-send the same vote */
#ifdef BROKEN_DOUBLE_VOTE
     :: votedProp[v] != p && REASON_SUPPORTED(v, p, c) && MAY_VOTE_NOW(v, c) ->
        castVote(v, p, e)                             /* BUG: a second vote in this epoch */
#endif
     :: else -> skip                                /* reject */
     fi
  :: e > epoch[v] && e < votedEpoch[v] -> skip   /* reject */
  :: e > epoch[v] && e > votedEpoch[v] ->
     if
     :: !REASON_SUPPORTED(v, p, c) -> skip
     :: else ->
        if
        :: MAY_VOTE_NOW(v, c) -> castVote(v, p, e)
        :: else ->                                    /* our grant still runs: vote when it expires */
           if
           :: pendE[v] == 0 || e > pendE[v] -> pendE[v] = e; pendP[v] = p
           :: else -> skip
           fi
        fi
     fi
  fi;
  c = 0
}

/* onCertificate: host h gets the certificate of epoch e. */
inline onCertificate(h, e) {
  if
  :: e > epoch[h] ->
     adopt(h, e);
     if :: certHolder[e] == h -> renewed[h] = 0 :: else -> skip fi
  :: else -> skip
  fi
}

/* onGrant: holder h gets voter v's grant for its renewal in slot s, epoch e. */
inline onGrant(h, v, s, e) {
  if
  :: e == epoch[h] && holder[h] == h && role[h] != FOLLOWER && renUsed[SIDX(h, s)] &&
     !(renGrants[SIDX(h, s)] & BIT(v)) ->
     renGrants[SIDX(h, s)] = renGrants[SIDX(h, s)] | BIT(v);
     countBits(renGrants[SIDX(h, s)], c);
     if
     :: c >= MAJ ->
        leaseLeft[h] = MAX(leaseLeft[h], renLeft[SIDX(h, s)]);
        becomeHolderIfLeased(h)
     :: else -> skip
     fi
  :: else -> skip
  fi
}

/* onRenew: voter v gets holder h's renewal (slot s) of epoch e. */
inline onRenew(v, h, s, e) {
  if
  :: e < epoch[v] -> skip     /* show the deposed holder the newer certificate: "a certificate arrives" */
  :: e > epoch[v] -> skip     /* cert-request: likewise */
  :: e == epoch[v] && h == holder[v] && votedEpoch[v] <= e ->
     seenLeft[v] = LEASE;
     grantLeft[v] = LEASE;
     pendE[v] = 0; pendP[v] = 0;
     if
     :: v == h -> onGrant(h, v, s, e)     /* to self: looped back at once */
     :: else -> mGrant[RIDX(v, h, s)] = e
     fi
  :: else -> skip
  fi
}

inline sendProposal(n) {
  j = 0;
  do
  :: j < N -> if :: j != n && !(propVotes[n] & BIT(j)) -> mProp[PIDX(n, j)] = propE[n] :: else -> skip fi; j++
  :: else -> break
  od
}

inline dec(v) { if :: v > 0 -> v-- :: else -> skip fi }

/* One tick of the global clock: every timer runs down; a holder whose lease
 * ran out drops the VIP at once (expireLease: the shell's timer fires at
 * leaseUntilMs, and actuationGuardMs covers the time `ip addr del` takes). */
inline tick() {
  k = 0;
  do
  :: k < N ->
     dec(grantLeft[k]); dec(seenLeft[k]); dec(leaseLeft[k]); dec(propLeft[k]);
     dec(renLeft[SIDX(k, 0)]);
     renewed[k] = 0;
     if
     :: vipUp[k] && leaseLeft[k] == 0 ->
        vipUp[k] = 0;
        if :: role[k] == HOLDING -> role[k] = SAFEMODE :: else -> skip fi
     :: else -> skip
     fi;
     k++
  :: else -> break
  od
}

init {
  d_step {
    i = 0;
    do
    :: i < N -> holder[i] = NONE; votedHolder[i] = NONE; votedProp[i] = NONE; i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < E1 -> certHolder[i] = NONE; i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < N * E1 -> propFrom[i] = NONE; i++
    :: else -> break
    od;
    clearScratch()
  };
  do
  /* time passes */
  :: d_step { tick(); check(); clearScratch() }

  /* a propose is delivered (onReceived "propose" -> onPropose), or lost */
  :: atomic {
       i = 0;
       do
       :: i < N * N && mProp[i] != 0 -> break
       :: i < N * N -> i++
       :: else -> break
       od;
       if
       :: i < N * N ->
          if
          :: d_step { x = i / N; y = i % N; z = mProp[i]; mProp[i] = 0; onPropose(y, x, z); check(); clearScratch() }
          :: d_step { mProp[i] = 0; clearScratch() }
          fi
       :: else -> clearScratch()
       fi
     }

  /* a vote is delivered or lost */
  :: atomic {
       i = 0;
       do
       :: i < N * N && mVote[i] != 0 -> break
       :: i < N * N -> i++
       :: else -> break
       od;
       if
       :: i < N * N ->
          if
          :: d_step { y = i / N; x = i % N; k = mVote[i]; mVote[i] = 0; onVote(x, y, k); check(); clearScratch() }
          :: d_step { mVote[i] = 0; clearScratch() }
          fi
       :: else -> clearScratch()
       fi
     }

  /* A certificate arrives at host i (sent on forming, as the basis of a
   * propose, in answer to a stale renew or propose, or to a cert-request).
   * Over-approximated: any certificate formed so far, at any time after. */
  :: atomic {
       select(i : 0 .. N - 1);
       select(x : 1 .. EMAX);
       if
       :: d_step { certHolder[x] != NONE && x > epoch[i] -> onCertificate(i, x); check(); clearScratch() }
       :: else -> clearScratch()
       fi
     }

  /* a renew is delivered or dropped */
  :: atomic {
       i = 0;
       do
       :: i < N * N * RMAX && mRenew[i] != 0 -> break
       :: i < N * N * RMAX -> i++
       :: else -> break
       od;
       if
       :: i < N * N * RMAX ->
          if
          :: d_step {
               x = i / (N * RMAX); y = (i / RMAX) % N; z = mRenew[i]; mRenew[i] = 0;
               onRenew(y, x, i % RMAX, z); check(); clearScratch() }
          :: d_step { mRenew[i] = 0; clearScratch() }
          fi
       :: else -> clearScratch()
       fi
     }

  /* a grant is delivered or dropped */
  :: atomic {
       i = 0;
       do
       :: i < N * N * RMAX && mGrant[i] != 0 -> break
       :: i < N * N * RMAX -> i++
       :: else -> break
       od;
       if
       :: i < N * N * RMAX ->
          if
          :: d_step {
               y = i / (N * RMAX); x = (i / RMAX) % N; z = mGrant[i]; mGrant[i] = 0;
               onGrant(x, y, i % RMAX, z); check(); clearScratch() }
          :: d_step { mGrant[i] = 0; clearScratch() }
          fi
       :: else -> clearScratch()
       fi
     }

  /* a host's own tick: holderTick, voterTick, proposerTick. Any host, any
   * time; the rank and back-off waits of proposerTick are left out (they
   * only order the candidates, which may all propose in the model). */
  :: atomic {
       select(i : 0 .. N - 1);
       if
       /* holderTick: send a renewal to every host (the oldest in flight is given up) */
       :: d_step {
            holder[i] == i && role[i] != FOLLOWER && !renewed[i] &&
            !((role[i] == ACQUIRING || role[i] == SAFEMODE) && votedEpoch[i] > epoch[i]) ->
            x = renNext[i];
            renNext[i] = (x + 1) % RMAX;
            j = 0;
            do
            :: j < N ->
               /* the slot's old renewal is forgotten: its messages count as lost */
               mRenew[RIDX(i, j, x)] = 0; mGrant[RIDX(j, i, x)] = 0;
               if :: j != i -> mRenew[RIDX(i, j, x)] = epoch[i] :: else -> skip fi;
               j++
            :: else -> break
            od;
            renUsed[SIDX(i, x)] = 1; renGrants[SIDX(i, x)] = 0; renLeft[SIDX(i, x)] = HLEASE;
            renewed[i] = 1;
            onRenew(i, i, x, epoch[i]);          /* to self: looped back at once */
            check(); clearScratch() }
       /* voterTick: a pending proposal is voted for once the grant has run out */
       :: d_step {
            pendE[i] != 0 ->
            if
            :: pendE[i] <= votedEpoch[i] || pendE[i] <= epoch[i] -> pendE[i] = 0; pendP[i] = 0
            :: else ->
               x = pendP[i]; y = pendE[i];
               if
               :: MAY_VOTE_NOW(i, propFrom[x * E1 + y]) -> pendE[i] = 0; pendP[i] = 0; castVote(i, x, y)
               :: else -> skip
               fi
            fi;
            check(); clearScratch() }
       /* proposerTick: re-send the proposal, or give it up after a reject above it */
       :: d_step {
            propE[i] != 0 ->
            if
            :: TOP >= propE[i] -> propE[i] = 0; propVotes[i] = 0; propLeft[i] = 0   /* a reject at or above it arrived: back off */
            :: else -> sendProposal(i)
            fi;
            check(); clearScratch() }
       /* proposerTick: the holder is lost (or there is none): propose itself
        * for max(epoch, votedEpoch, rejectedEpochMax) + 1, where
        * rejectedEpochMax is whatever rejects have arrived: 0 up to TOP */
       :: propE[i] == 0 && holder[i] != i && HOLDER_LOST(i) && MAX(epoch[i], votedEpoch[i]) < EMAX ->
          select(x : 1 .. EMAX);
          if
          :: d_step {
               x > MAX(epoch[i], votedEpoch[i]) && x <= TOP + 1 && !PROPOSED_FROM(i, x) ->
               assert(propFrom[i * E1 + x] == NONE); /* one proposal per (proposer, epoch): the ghost `from` is sound */
               lastProp[i] = x;
               propFrom[i * E1 + x] = holder[i];
               propE[i] = x; propVotes[i] = 0; propLeft[i] = HLEASE;
               sendProposal(i);
               onPropose(i, i, x);                  /* to self: looped back at once */
               check(); clearScratch() }
          :: else -> clearScratch()
          fi
       :: d_step { clearScratch() }              /* nothing to do now */
       fi
     }
  od
}
