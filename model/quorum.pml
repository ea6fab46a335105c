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
 *  - rejects and ordinary certificates are not messages: a proposer may back
 *    off whenever a reject at or above its epoch could have arrived, and a
 *    host may learn any certificate already formed, at any time (both
 *    over-approximate);
 *    the in-person certificate of a planned move is a message;
 *  - planned moves (reason "handover"; "predicted" differs only in the
 *    forecast check of reasonSupported, which only removes votes): the
 *    holder drops its VIP in the step it forms the certificate;
 *  - at most CRASHMAX crashes per run (a crash loses all volatile state;
 *    with VOTE_FILE_LOSS it may lose the persisted record too, after which
 *    the host only grants), each followed, whenever, by a restart and its
 *    wait; no ranks, no stand-aside;
 *  - lapsed renewals (a holder that hears no voter says so, and the voters
 *    forget their grants to it): a certified holder without a lease
 *    (acquiring or safe mode, its lease over) may send one whenever; it is
 *    a message of its own (a datagram in the code: a later renewal may
 *    overtake it); the lapsed-ack, and the timing the code waits for
 *    (answeredSentAtMs, askedSinceMs), only decide when it is sent, which
 *    the model leaves free: see README, "Lapsed renewals".
 *
 * Properties, checked after every step (check() below, so in every
 * reachable state):
 *   inv 1  at most one host has the VIP up, and at most one believes it
 *          holds a lease valid by its own clock;
 *   inv 2a no two certificates of one epoch name different holders (and,
 *          for the ghost table's sake, no two certificates of one epoch);
 *   inv 2b the epoch a host accepts only grows, and so does its vote
 *          (between restarts: a lost vote file sets both back to 0);
 *   plus the assertions of quorum.ts's checkInvariants and castVote.
 *
 * Broken variants (each must fail):
 *   -DBROKEN_DOUBLE_VOTE        a voter signs a second, different proposal
 *                               of an epoch it already voted in;
 *   -DBROKEN_NO_GRANT_WAIT      a voter votes for a new epoch while a lease
 *                               it granted still runs;
 *   -DBROKEN_PLANNED_VOTE       the old planned-vote rule: a voter signs a
 *                               planned move whatever grant of its runs
 *                               (needs EMAX 3);
 *   -DBROKEN_RESTART_GRANT      after a restart a voter grants renewals at
 *                               once (only its votes wait); needs
 *                               VOTE_FILE_LOSS;
 *   -DBROKEN_ADOPT_GRANT_EPOCH  adopting a certificate that carries the
 *                               voter's vote sets grantEpoch to its epoch,
 *                               relabelling a grant from a later vote (needs
 *                               EMAX 3, or VOTE_FILE_LOSS);
 *   -DBROKEN_LAPSED_EARLY       a holder says it lapsed while its lease may
 *                               still run (holding, not waiting it out);
 *   -DBROKEN_LAPSED_KEEPS_RENEWALS  a lapsed holder still counts grants for
 *                               the renewals it sent before;
 *   -DBROKEN_LAPSED_ANY_SEQ     a voter forgets its grant to the lapsed
 *                               process whatever renewal it granted, even
 *                               one sent after the lapsed one (quorum.ts as
 *                               committed in 0db6096, fixed in b84ef99: see README).
 * Known unsafe, caught too: -DVOTE_FILE_LOSS_ANY (a host that lost its vote
 * file goes on as in quorum.ts: votes, proposes, holds); -DLOST_MAY_HOLD.
 * Options: -DEMAX, -DLEASE, -DHLEASE, -DRWAIT, -DTWAIT, -DCRASHMAX,
 * -DNO_HANDOVER, -DNO_LAPSE, -DTRACE (prints each step when replaying a trail).
 */

#define N     3          /* hosts; all are voters and candidates */
#define MAJ   2          /* majority(3) */
#ifdef VOTE_FILE_LOSS_ANY
#define VOTE_FILE_LOSS
#endif
#ifndef EMAX
#define EMAX  3          /* epochs 1..EMAX; scripts/check-model.sh runs 2 by default, 3 with --full */
#endif
#if EMAX > 3
#error "a message packs its epoch into two bits: EMAX <= 3"
#endif
#define E1    (EMAX + 1) /* array width for an epoch index 0..EMAX */
#ifndef LEASE
#define LEASE 1          /* config.leaseMs, in ticks: a voter's grant (2 also checked: see README) */
#endif
#ifndef HLEASE
#define HLEASE LEASE     /* holderLeaseMs(config), in ticks: <= LEASE (see README: drift) */
#endif
#ifndef RWAIT
#define RWAIT LEASE      /* restartWaitMs(config), in ticks: no vote, no grant this long after a restart */
#endif
#ifndef TWAIT
#define TWAIT LEASE      /* handoverWaitMs(config), in ticks: a handover certificate not had in person */
#endif
#ifndef CRASHMAX
#define CRASHMAX 1       /* crashes per run (0: none) */
#endif
#define RMAX  1          /* renewals a holder keeps in flight (RENEWALS_IN_FLIGHT_MAX is 8): see README */
#define NONE  N          /* "no host" (null) */

/* Roles (quorum.ts Role). */
#define FOLLOWER  0
#define ACQUIRING 1
#define HOLDING   2
#define SAFEMODE  3
#define HANDING   4      /* handingOver */

/* ------------------------------------------------------------ host state */
/* One entry per host; names follow QuorumState. Persisted (survives a
 * crash, unless the vote file is lost): epoch, holder, votedEpoch and
 * votedHolder, which only an assertion of castVote reads and is left out
 * here (see castVote). Everything else is volatile. */
byte epoch[N];            /* highest certified epoch seen; only grows (but see VOTE_FILE_LOSS) */
byte holder[N];           /* holder named by that certificate (NONE before the first) */
byte votedEpoch[N];       /* one vote per (service, epoch) */
byte votedProp[N];        /* proposal voted for (votedProposal): VP(proposer, boot), NONE if null */
byte grantLeft[N];        /* grantUntilMs - now: promise not to vote for a newer epoch */
byte grantEpoch[N];       /* grantEpoch: the epoch the running grant is for */
byte grantHolder[N];      /* grantHolder: the holder it is for (one (epoch, holder) at a time) */
byte grantBoot[N];        /* grantBoot: that holder's process (2: unknown, as for a vote for a planned move) */
byte exLeft[N];           /* exemptFrom.untilMs - now: a grant the planned-vote exemption overrode still runs */
byte exHolder[N];         /* exemptFrom.holder */
byte seenLeft[N];         /* holderSeenUntilMs - now */
byte noVoteLeft[N];       /* noVoteBeforeMs - now: the restart wait, no vote and no grant */
byte pendP[N];            /* pendingProposal: VP(proposer, boot) ... */
byte pendE[N];            /* ... and epoch (0: none) */
byte role[N];
bool vipUp[N];
byte leaseLeft[N];        /* leaseUntilMs - now, by the holder's clock */
byte takeLeft[N];         /* takeNotBeforeMs - now */
bool renewed[N];          /* renewed in this tick already (renewIntervalMs is one tick) */
byte propE[N];            /* proposal.epoch (0: none); its holder and from: ghost gProp */
byte propLeft[N];         /* proposal.firstSentAtMs + holderLeaseMs - now (holder-lost and initial only) */
byte propVotes[N];        /* bitmask of voters whose votes it holds */
byte renLeft[N * RMAX];   /* renewal.sentAtMs + holderLeaseMs - now */
byte renGrants[N * RMAX]; /* bitmask: renewal.grantedBy */
bool renUsed[N * RMAX];
bool down[N];             /* crashed, not restarted yet: does nothing, gets nothing */
bool boot[N];             /* config.boot: the process incarnation (one crash per host at most) */
byte crashes;             /* crashes so far in this run (<= CRASHMAX) */
bool lostFile[N];         /* ghost: this host lost its vote file (VOTE_FILE_LOSS) */
bool lapsedLast[N];       /* as holder: what it sent last was a lapsed renewal, no renewal since (a lapsed
                           * one again would only re-send it: left out, see MAY_LAPSE) */
bool grantPre[N];         /* the running grant was made before the lapsed message in flight from its holder
                           * to this voter was sent (grantSeq <= that message's seq): only such a grant may
                           * be forgotten; read only while that message is in flight (else 0) */

/* --------------------------------------------------------------- network */
/* Per kind, at most one message in flight per (sender, receiver); a newer
 * send replaces an older one (which is lost). Propose, vote and renew carry
 * MSG(epoch, boot) (0: none): boot is the proposer's or holder's process,
 * so that a vote or a grant for a process that has since restarted counts
 * for nothing (quorum.ts's boot). What a propose carries besides its epoch
 * is fixed by (proposer, boot, epoch) and lives in the ghost table gProp. */
byte mProp[N * N];        /* propose  p -> v: index p*N + v */
byte mVote[N * N];        /* vote     v -> p: index v*N + p */
byte mRenew[N * N * RMAX];/* renew h -> v, slot s: index (h*N + v)*RMAX + s */
byte mGrant[N * N * RMAX];/* grant v -> h, slot s: epoch (0: none): index (v*N + h)*RMAX + s */
byte mInP[N];             /* in-person certificate to host t: its epoch (0: none); sent by certificate's `from` */
byte mLap[N * N];         /* lapsed   h -> v: MSG(epoch, boot): index h*N + v; a kind of its own, so that a
                           * renewal sent after it may overtake it (datagrams in the code) */
/* reject, the other certificates and cert-request are not messages here:
 * see the back-off in proposerTick and the "a certificate arrives" action. */

/* ---------------------------------------------------------------- ghosts */
byte gProp[N * 2 * E1];   /* host p's proposal (boot b) for epoch e: GP(from, holder); GP(NONE, NONE) if unused.
                           * holder is p itself unless planned; planned iff from == p */
byte lastProp[N];         /* highest epoch host p has proposed in this process (rejectedEpochMax keeps it from going back) */
byte certHolder[E1];      /* holder named by the certificate of epoch e (NONE: none yet) */
bool certPlanned[E1];     /* its reason is planned (handover) */
byte certFrom[E1];        /* the holder it replaces */
#ifdef BROKEN_ADOPT_GRANT_EPOCH
byte certVoters[E1];      /* bitmask of its voters (only the broken variant reads it) */
#endif
byte hiE[N];              /* highest epoch host n has voted in or certified, ever (a lost vote file keeps it: its rejects may be on their way) */

/* Scratch: every action is one d_step, so these never carry anything from
 * one state to the next and are hidden (not in the state vector). */
hidden byte i, x, t, j, k, y, z, c, w, b;
hidden byte pe, pb, pc, pt;   /* onPropose, voterTick */
hidden byte ve, vt, vz;       /* onVote */
hidden byte vok;
hidden byte gx, gy, gb, gk;   /* gc */

#define PIDX(p, v)     ((p) * N + (v))
#define RIDX(h, v, s)  (((h) * N + (v)) * RMAX + (s))
#define SIDX(h, s)     ((h) * RMAX + (s))
#define GIDX(p, bt, e) (((p) * 2 + (bt)) * E1 + (e))
#define BIT(n)         (1 << (n))
#define MAX(a, b)      ((a) > (b) -> (a) : (b))
#define MSG(e, bt)     ((e) + 4 * (bt))
#define ME(m)          ((m) & 3)
#define MB(m)          ((m) >> 2)
#define VP(p, bt)      ((p) + 4 * (bt))
#define VPP(v)         ((v) & 3)
#define VPB(v)         ((v) >> 2)
#define GP(from, to)   ((from) * 4 + (to))
#define GFROM(g)       (gProp[g] >> 2)
#define GTO(g)         (gProp[g] & 3)
#define GNONE          GP(NONE, NONE)

inline countBits(mask, out) {
  out = ((mask) & 1) + (((mask) >> 1) & 1) + (((mask) >> 2) & 1)
}

/* Messages that can no longer have any effect are removed at once: the
 * state is the same as if they had been lost, and it keeps equal states
 * equal. (A dead message is one whose delivery is a no-op in every future.
 * A message to a crashed host is lost: its connections went with it.) */
inline gc() {
  gk = 0;
  do
  :: gk < N * N ->
     gx = gk / N; gy = gk % N;   /* sender, receiver */
     /* a propose gx -> gy of an epoch gy has certified, or below its vote,
      * or (one vote per epoch) of the epoch it voted in for another proposal */
     if
     :: mProp[gk] != 0 && (down[gy] || ME(mProp[gk]) <= epoch[gy] || ME(mProp[gk]) < votedEpoch[gy]
#ifndef BROKEN_DOUBLE_VOTE
        || (ME(mProp[gk]) == votedEpoch[gy] && votedProp[gy] != VP(gx, MB(mProp[gk])))
#endif
        ) -> mProp[gk] = 0
     :: else -> skip
     fi;
     /* a vote gx -> gy for a proposal gy no longer gathers votes for, or has counted */
     if
     :: mVote[gk] != 0 && (ME(mVote[gk]) != propE[gy] || MB(mVote[gk]) != boot[gy] || (propVotes[gy] & BIT(gx))) -> mVote[gk] = 0
     :: else -> skip
     fi;
     /* a renew gx -> gy below gy's epoch (its only effect, showing gx the
      * certificate, is "a certificate arrives"), or one gy can never grant */
     if
     :: mRenew[gk] != 0 && (down[gy] || ME(mRenew[gk]) < epoch[gy] ||
                           (ME(mRenew[gk]) == epoch[gy] && holder[gy] != gx)) -> mRenew[gk] = 0
     :: else -> skip
     fi;
     /* a grant gx -> gy for an epoch gy has left, or for a renewal it no longer keeps */
     if
     :: mGrant[gk] != 0 && (mGrant[gk] != epoch[gy] || !renUsed[gy] || (renGrants[gy] & BIT(gx))) -> mGrant[gk] = 0
     :: else -> skip
     fi;
     /* a lapsed gx -> gy below gy's epoch (answered as a renew: "a certificate
      * arrives"), or of its epoch from a host gy does not count as holder */
     if
     :: mLap[gk] != 0 && (down[gy] || ME(mLap[gk]) < epoch[gy] ||
                         (ME(mLap[gk]) == epoch[gy] && holder[gy] != gx)) -> mLap[gk] = 0
     :: else -> skip
     fi;
     gk++
  :: else -> break
  od;
  gk = 0;
  do
  :: gk < N ->
     /* an in-person certificate the receiver would ignore */
     if
     :: mInP[gk] != 0 && (down[gk] || mInP[gk] < epoch[gk] ||
                         (mInP[gk] == epoch[gk] && (certHolder[mInP[gk]] != gk || takeLeft[gk] == 0))) -> mInP[gk] = 0
     :: else -> skip
     fi;
     /* values nothing reads any more are zeroed, so equal futures meet:
      * grantEpoch is read only while a grant runs; votedProposal only for
      * an epoch voted in but not certified; the seen-until only once the
      * grant has run out (it cannot outlast it unless a renew sets it
      * anew); the ghost of rejectedEpochMax only above max(epoch,
      * votedEpoch); lastRenewSentMs only as a holder */
     if :: grantLeft[gk] == 0 -> grantEpoch[gk] = 0; grantHolder[gk] = 0; grantBoot[gk] = 0 :: else -> skip fi;
     /* grantPre is read only while a lapsed from the grant's holder is on its way */
     if :: grantLeft[gk] == 0 || mLap[PIDX(grantHolder[gk], gk)] == 0 -> grantPre[gk] = 0 :: else -> skip fi;
     if :: exLeft[gk] == 0 -> exHolder[gk] = 0 :: else -> skip fi;
     if :: votedEpoch[gk] == epoch[gk] -> votedProp[gk] = NONE :: else -> skip fi;
     if :: seenLeft[gk] <= grantLeft[gk] -> seenLeft[gk] = 0 :: else -> skip fi;
     if :: lastProp[gk] <= MAX(epoch[gk], votedEpoch[gk]) -> lastProp[gk] = 0 :: else -> skip fi;
     if :: holder[gk] != gk || role[gk] == FOLLOWER -> renewed[gk] = 0; lapsedLast[gk] = 0 :: else -> skip fi;
     /* a pending proposal voterTick would discard */
     if
     :: pendE[gk] != 0 && (pendE[gk] <= votedEpoch[gk] || pendE[gk] <= epoch[gk]) -> pendE[gk] = 0; pendP[gk] = 0
     :: else -> skip
     fi;
     /* a renewal whose lease has run out can extend nothing: its grants are dead */
     if
     :: renUsed[gk] && renLeft[gk] == 0 ->
        renUsed[gk] = 0; renGrants[gk] = 0;
        mGrant[PIDX(0, gk)] = 0; mGrant[PIDX(1, gk)] = 0; mGrant[PIDX(2, gk)] = 0
     :: else -> skip
     fi;
     gk++
  :: else -> break
  od;
  /* the ghost content of a proposal nothing refers to any more */
  gk = 0;
  do
  :: gk < N * 2 * E1 ->
     gx = gk / (2 * E1); gb = (gk / E1) % 2; gy = gk % E1;   /* proposer, boot, epoch */
     if
     :: gProp[gk] != GNONE && !(propE[gx] == gy && boot[gx] == gb) &&
        !(pendP[0] == VP(gx, gb) && pendE[0] == gy) && !(pendP[1] == VP(gx, gb) && pendE[1] == gy) && !(pendP[2] == VP(gx, gb) && pendE[2] == gy) &&
        mProp[PIDX(gx, 0)] != MSG(gy, gb) && mProp[PIDX(gx, 1)] != MSG(gy, gb) && mProp[PIDX(gx, 2)] != MSG(gy, gb) ->
        gProp[gk] = GNONE
     :: else -> skip
     fi;
     gk++
  :: else -> break
  od;
  gk = 0; gx = 0; gy = 0; gb = 0
}

#define LEASE_VALID(n)  (holder[n] == (n) && (role[n] == HOLDING || role[n] == HANDING) && leaseLeft[n] > 0)

inline check() {
  gc();
  /* inv 1 */
  assert((vipUp[0] + vipUp[1] + vipUp[2]) <= 1);
  assert((LEASE_VALID(0) + LEASE_VALID(1) + LEASE_VALID(2)) <= 1);
  /* quorum.ts checkInvariants */
  k = 0;
  do
  :: k < N ->
     assert(votedEpoch[k] >= epoch[k]);
     assert(!vipUp[k] || LEASE_VALID(k));
     assert(propE[k] == 0 || propE[k] > epoch[k]);
     k++
  :: else -> break
  od;
  k = 0
}

/* -DTRACE: each step prints what happened and every host's state, for
 * reading a counterexample: build pan with -DTRACE (and the same other
 * flags) and replay its trail with spin -t -DTRACE; compiled out otherwise. */
#ifdef TRACE
hidden byte sk;
inline showState() {
  sk = 0;
  do
  :: sk < N ->
     printf("    %c: epoch=%d holder=%d voted=%d role=%d vip=%d lease=%d grant=%d@%d%c seen=%d wait=%d take=%d prop=%d/%d votes=%d pend=%d/%d down=%d boot=%d\n",
            65 + sk, epoch[sk], holder[sk], votedEpoch[sk], role[sk], vipUp[sk], leaseLeft[sk], grantLeft[sk], grantEpoch[sk], (grantPre[sk] -> 42 : 32), seenLeft[sk],
            noVoteLeft[sk], takeLeft[sk], propE[sk], GTO(GIDX(sk, boot[sk], propE[sk])), propVotes[sk], pendE[sk], VPP(pendP[sk]), down[sk], boot[sk]);
     sk++
  :: else -> break
  od;
  printf("    certs:");
  sk = 1;
  do
  :: sk <= EMAX -> if :: certHolder[sk] != NONE -> printf(" %d:%c%c", sk, 65 + certHolder[sk], (certPlanned[sk] -> 80 : 32)) :: else -> skip fi; sk++
  :: else -> break
  od;
  printf("\n");
  sk = 0
}
#define TR(...) printf(__VA_ARGS__); showState()
#else
#define TR(...) skip
#endif

/* Hygiene only: the scratch is hidden, so it never splits states; zeroing
 * it keeps any read before a write from seeing a value of another step. */
inline clearScratch() {
  i = 0; j = 0; k = 0; x = 0; y = 0; z = 0; c = 0; t = 0; w = 0; b = 0;
  pe = 0; pb = 0; pc = 0; pt = 0; ve = 0; vt = 0; vz = 0; vok = 0
}

/* Rejects. A reject carries max(epoch, votedEpoch) of its sender at some
 * earlier time; the model drops rejectedEpochMax and lets a reject "arrive"
 * whenever one could have (see proposerTick below). For host n's proposal
 * they come from the other voters, so rejectedEpochMax is never above
 * OTHERS(n); and from n itself only if n's own vote at or above the
 * proposal's epoch is not for it (the proposal is sent to every voter that
 * has not voted for it, n too). */
#define OTHERS(n)  MAX(hiE[((n) + 1) % N], hiE[((n) + 2) % N])
#define REJECTED(n) \
  (OTHERS(n) >= propE[n] || votedEpoch[n] > propE[n] || \
   (votedEpoch[n] == propE[n] && votedProp[n] != VP(n, boot[n])))
/* the highest rejectedEpochMax host n can have: from the others, or its own vote */
#define REJ_MAX(n)  MAX(OTHERS(n), votedEpoch[n])

/* Host n has proposed epoch e or a later one in this process: after a
 * back-off its next proposal goes above (rejectedEpochMax >= the given-up epoch). */
#define PROPOSED_FROM(n, e)  (lastProp[n] >= (e))

/* holderLost(s): no vote (so no holder-lost proposal) in the restart wait. */
#define HOLDER_LOST(n)  (noVoteLeft[n] == 0 && grantLeft[n] == 0 && seenLeft[n] == 0)

/* mayVoteNow(s, p), for a proposal by proposer p with the given `from`
 * (planned iff from == p: only the holder hands over). */
#ifdef BROKEN_NO_GRANT_WAIT
#define UNPLANNED_OK(n, from)  ((from) == NONE || HOLDER_LOST(n))
#else
#define UNPLANNED_OK(n, from)  (((from) == NONE || HOLDER_LOST(n)) && grantLeft[n] == 0)
#endif
#ifdef BROKEN_PLANNED_VOTE
#define PLANNED_OK(n, p, bt)   1   /* BUG: the old rule, any running grant ignored */
#else
/* the running grant, if any, is to the holder it knows, at its certified
 * epoch (reasonSupported makes the proposer that holder) */
#ifdef BROKEN_PLANNED_BOOT
#define PLANNED_OK(n, p, bt)   (grantLeft[n] == 0 || grantEpoch[n] == epoch[n])   /* BUG: any process of the holder */
#else
#define PLANNED_OK(n, p, bt)   (grantLeft[n] == 0 || (grantEpoch[n] == epoch[n] && grantHolder[n] == (p) && grantBoot[n] == (bt)))
#endif
#endif
/* With VOTE_FILE_LOSS, a host that lost its record goes on only as a
 * voter that grants: it never votes, proposes or renews as holder again
 * (see README: without this, a lost record breaks one vote per epoch and
 * lets the host take back the holdership of a certificate it had handed
 * on, which no wait can prevent; -DVOTE_FILE_LOSS_ANY lifts it). */
#if defined(VOTE_FILE_LOSS) && !defined(VOTE_FILE_LOSS_ANY)
#define NOT_LOST(n)  (!lostFile[n])
#else
#define NOT_LOST(n)  1
#endif
/* -DLOST_MAY_HOLD: it may still renew as holder (but not vote or propose) */
#if defined(VOTE_FILE_LOSS) && !defined(VOTE_FILE_LOSS_ANY) && !defined(LOST_MAY_HOLD)
#define NOT_LOST_HOLDER(n)  (!lostFile[n])
#else
#define NOT_LOST_HOLDER(n)  1
#endif
#define MAY_VOTE_NOW(n, p, bt, from) \
  (NOT_LOST(n) && noVoteLeft[n] == 0 && (((from) == (p)) -> PLANNED_OK(n, p, bt) : UNPLANNED_OK(n, from)))

/* reasonSupported(s, p), for a proposal naming `to` with the given `from`:
 * "initial" iff from is null, "handover" iff from is the proposer (the
 * holder itself), else "holder-lost"; handover and holder-lost read the same
 * here, since for a handover the proposer is `from`. */
#define REASON_SUPPORTED(n, to, from) \
  (((from) == NONE && holder[n] == NONE) || \
   ((from) != NONE && (from) == holder[n] && (to) != holder[n]))

inline becomeHolderIfLeased(n) {
  if
  :: leaseLeft[n] > 0 && takeLeft[n] == 0 ->
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
  renUsed[SIDX(n, 0)] = 0; renGrants[SIDX(n, 0)] = 0; renLeft[SIDX(n, 0)] = 0
}

/* adoptCertificate(s, fx, cert) */
inline adopt(n, e) {
  assert(e > epoch[n]);            /* inv 2b: epochs only grow */
  w = (holder[n] == n);            /* wasHolder */
  epoch[n] = e;
  holder[n] = certHolder[e];
  lapsedLast[n] = 0;               /* a new epoch: its lapsed renewals are of the old one */
  hiE[n] = MAX(hiE[n], e);
  if
  :: pendE[n] != 0 && pendE[n] <= e -> pendE[n] = 0; pendP[n] = 0
  :: else -> skip
  fi;
  if
  :: propE[n] != 0 && propE[n] <= e -> propE[n] = 0; propVotes[n] = 0; propLeft[n] = 0
  :: else -> skip
  fi;
  if
  :: votedEpoch[n] < e -> votedEpoch[n] = e; votedProp[n] = NONE
  :: else -> skip
  fi;
#ifdef BROKEN_ADOPT_GRANT_EPOCH
  /* BUG: a voter whose vote the certificate carries relabels its running
   * grant as one to this epoch (it may be a grant from a later vote) */
  if
  :: certVoters[e] & BIT(n) -> grantEpoch[n] = e
  :: else -> skip
  fi;
#endif
  if
  :: w && certHolder[e] != n ->
     vipUp[n] = 0;                 /* drop-vip: superseded, or handed over */
     role[n] = FOLLOWER;
     leaseLeft[n] = 0;
     clearRenewals(n)
  :: else -> skip
  fi;
  if
  :: certHolder[e] == n -> vipUp[n] = 0; role[n] = ACQUIRING; clearRenewals(n); leaseLeft[n] = 0
  :: else -> role[n] = FOLLOWER
  fi;
  w = 0
}

/* onVote: proposer p gets voter v's vote m = MSG(epoch, boot). */
inline onVote(p, v, m) {
  if
  :: MB(m) == boot[p] && propE[p] == ME(m) && !(propVotes[p] & BIT(v)) ->
     propVotes[p] = propVotes[p] | BIT(v);
     countBits(propVotes[p], c);
     if
     :: c >= MAJ ->
        ve = ME(m);
        vt = GTO(GIDX(p, boot[p], ve));
        vok = (GFROM(GIDX(p, boot[p], ve)) == p);  /* planned */
        /* inv 2a: a certificate never contradicts another of the same epoch */
        assert(certHolder[ve] == NONE || certHolder[ve] == vt);
        /* (the ghost table keeps one certificate per epoch: two naming the
         * same holder would need a voter to vote twice in the epoch too) */
        assert(certHolder[ve] == NONE);
        certHolder[ve] = vt;
        certPlanned[ve] = vok;
        certFrom[ve] = GFROM(GIDX(p, boot[p], ve));
#ifdef BROKEN_ADOPT_GRANT_EPOCH
        certVoters[ve] = propVotes[p];
#endif
        vz = propLeft[p];             /* firstSentAtMs + holderLeaseMs - now */
        propE[p] = 0; propVotes[p] = 0; propLeft[p] = 0;
        if
        :: vok ->
           /* a planned move: the old holder drops its VIP first (adopt),
            * then tells the new holder in person; the others learn it as
            * any certificate ("a certificate arrives") */
           adopt(p, ve);
           mInP[vt] = ve
        :: else ->
           adopt(p, ve);
           leaseLeft[p] = vz;
           becomeHolderIfLeased(p);
           renewed[p] = 0            /* lastRenewSentMs = -Infinity */
        fi
     :: else -> skip
     fi
  :: else -> skip
  fi
}

/* castVote(s, fx, p): persist, then send. Persist is atomic with the step
 * (a crash comes between steps). v votes for proposer p's proposal (boot bt)
 * of epoch e naming `to`. */
inline castVote(v, p, bt, e, to) {
  assert(e > epoch[v]);
  assert(e >= votedEpoch[v]);                          /* inv 2b: votes only grow */
#ifndef BROKEN_DOUBLE_VOTE
  /* one vote per epoch (quorum.ts asserts votedHolder matches; here the
   * only second vote is the re-send of the same proposal's) */
  assert(e > votedEpoch[v] || votedProp[v] == VP(p, bt));
#endif
  votedEpoch[v] = e;
  votedProp[v] = VP(p, bt);
  hiE[v] = MAX(hiE[v], e);
#ifndef BROKEN_EXEMPT_SLOT
  if
  :: p != to && grantLeft[v] > 0 && !(grantEpoch[v] == e && grantHolder[v] == to) -> exLeft[v] = grantLeft[v]; exHolder[v] = grantHolder[v]
  :: else -> skip
  fi;
#endif
  grantLeft[v] = LEASE;  /* max(grantUntil, now + lease): LEASE is the largest value it takes */
  grantEpoch[v] = e;     /* the vote is a grant to the proposed holder */
  grantHolder[v] = to;
  grantBoot[v] = (to == p -> bt : 2);  /* a planned move's new holder is not the proposer: its process is unknown */
  grantPre[v] = 1;       /* a vote answers no renewal: a lapsed of its epoch may forget it (the fix's grantSeq 0) */
  if
  :: v == p -> onVote(p, v, MSG(e, bt))    /* to self: the shell loops it back (here at once) */
  :: else -> mVote[PIDX(v, p)] = MSG(e, bt) /* replaces an older vote still in flight (see README) */
  fi
}

/* onPropose: voter v gets proposer p's proposal m = MSG(epoch, boot). */
inline onPropose(v, p, m) {
  pe = ME(m); pb = MB(m);
  pc = GFROM(GIDX(p, pb, pe));
  pt = GTO(GIDX(p, pb, pe));
  assert(pt != NONE);
  if
  :: pe <= epoch[v] -> skip              /* reject + certificate: see those actions */
  :: pe > epoch[v] && pe == votedEpoch[v] ->
     if
#ifdef BROKEN_RESEND_VOTE
     :: votedProp[v] == VP(p, pb) -> castVote(v, p, pb, pe, pt)   /* BUG: re-sent whatever grant runs */
#else
     /* re-send the same vote: a grant, so not while a grant to another holder runs */
     :: votedProp[v] == VP(p, pb) && (grantLeft[v] == 0 || (grantEpoch[v] == pe && grantHolder[v] == pt)) -> castVote(v, p, pb, pe, pt)
#endif
#ifdef BROKEN_DOUBLE_VOTE
     :: votedProp[v] != VP(p, pb) && REASON_SUPPORTED(v, pt, pc) && MAY_VOTE_NOW(v, p, pb, pc) ->
        castVote(v, p, pb, pe, pt)                               /* BUG: a second vote in this epoch */
#endif
     :: else -> skip                                          /* reject */
     fi
  :: pe > epoch[v] && pe < votedEpoch[v] -> skip   /* reject */
  :: pe > epoch[v] && pe > votedEpoch[v] ->
     if
     :: !REASON_SUPPORTED(v, pt, pc) -> skip
     :: else ->
        if
        :: MAY_VOTE_NOW(v, p, pb, pc) -> castVote(v, p, pb, pe, pt)
        :: else ->                                    /* a grant still runs, or the restart wait: vote later */
           if
           :: pendE[v] == 0 || pe > pendE[v] -> pendE[v] = pe; pendP[v] = VP(p, pb)
           :: else -> skip
           fi
        fi
     fi
  fi;
  pc = 0; pt = 0; pe = 0; pb = 0
}

/* onCertificate: host h gets the certificate of epoch e, in person (from
 * the old holder of a planned move) or not. */
inline onCertificate(h, e, inPerson) {
  if
  :: e == epoch[h] && inPerson && certHolder[e] == h && certPlanned[e] ->
     /* the certificate came ahead (sent to all when it formed): the word in
      * person only lifts the wait */
     takeLeft[h] = 0;
     becomeHolderIfLeased(h)
  :: e > epoch[h] ->
     adopt(h, e);
     if
     :: certHolder[e] == h ->
        if
        :: certPlanned[e] && !inPerson -> takeLeft[h] = TWAIT   /* handoverWaitMs */
        :: certPlanned[e] && inPerson -> takeLeft[h] = 0        /* the old holder dropped the VIP before it sent this */
        :: else -> skip
        fi;
        renewed[h] = 0
     :: else -> skip
     fi
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

/* onRenew: voter v gets holder h's renewal (slot s) m = MSG(epoch, boot). */
inline onRenew(v, h, s, m) {
  if
  :: ME(m) < epoch[v] -> skip     /* show the deposed holder the newer certificate: "a certificate arrives" */
  :: ME(m) > epoch[v] -> skip     /* cert-request: likewise */
#ifdef OLD_STALE_VOTE_RULE
  :: ME(m) == epoch[v] && h == holder[v] && votedEpoch[v] <= ME(m) ->
#else
  /* refused only while its own newer vote's grant runs */
  :: ME(m) == epoch[v] && h == holder[v] && !(votedEpoch[v] > ME(m) && grantEpoch[v] == votedEpoch[v] && grantLeft[v] > 0) ->
#endif
     seenLeft[v] = LEASE;
     if
#ifndef BROKEN_RESTART_GRANT
     :: noVoteLeft[v] > 0 -> skip                  /* the restart wait: no grant yet */
#endif
#ifdef BROKEN_GRANT_EPOCH_ONLY
     :: grantEpoch[v] != ME(m) && grantLeft[v] > 0 -> skip   /* BUG: any holder of the epoch */
#else
     :: (grantEpoch[v] != ME(m) || grantHolder[v] != h) && grantLeft[v] > 0 -> skip   /* a grant to another epoch or holder still runs */
     /* a grant the planned-vote exemption overrode still runs: only the planned certificate itself */
     :: exLeft[v] > 0 && !(certPlanned[epoch[v]] && certFrom[epoch[v]] == exHolder[v]) -> skip
#endif
     :: else ->
        grantLeft[v] = LEASE;
        grantEpoch[v] = ME(m);
        grantHolder[v] = h;
        grantBoot[v] = MB(m);
        grantPre[v] = 0;   /* sent after any lapsed of h's on its way to v: lapse() drops older renews */
        pendE[v] = 0; pendP[v] = 0;
        if
        :: MB(m) != boot[h] -> skip                 /* a renewal of h's previous process: the grant counts for nothing */
        :: MB(m) == boot[h] && v == h -> onGrant(h, v, s, ME(m))   /* to self: looped back at once */
        :: MB(m) == boot[h] && v != h -> mGrant[RIDX(v, h, s)] = ME(m)
        fi
     fi
  :: else -> skip
  fi
}

/* onLapsed: voter v gets holder h's lapsed renewal m = MSG(epoch, boot).
 * Another epoch's is answered as a renew would be (a certificate, a
 * cert-request: "a certificate arrives"). The lapsed-ack is left out: it
 * only tells the holder it was heard, which decides when it may lapse
 * again, and the model lets it lapse whenever (README, "Lapsed renewals"). */
#ifdef BROKEN_LAPSED_ANY_SEQ
#define PRE_LAPSED(v)  1              /* BUG: whatever renewal it granted (quorum.ts as of 0db6096) */
#else
#define PRE_LAPSED(v)  (grantPre[v])  /* only a grant for a renewal sent no later than this lapsed one */
#endif
inline onLapsed(v, h, m) {
  if
  :: ME(m) == epoch[v] && h == holder[v] ->
     seenLeft[v] = 0;                  /* holderSeenUntilMs = min(it, now): the holder is lost */
     if
     :: grantLeft[v] > 0 && grantEpoch[v] == ME(m) && grantHolder[v] == h && grantBoot[v] == MB(m) && PRE_LAPSED(v) ->
        grantLeft[v] = 0               /* grantUntilMs = min(it, now): forgotten, it may vote at once */
     :: else -> skip
     fi
  :: else -> skip
  fi
}

inline sendProposal(n) {
  j = 0;
  do
  :: j < N -> if :: j != n && !(propVotes[n] & BIT(j)) -> mProp[PIDX(n, j)] = MSG(propE[n], boot[n]) :: else -> skip fi; j++
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
     dec(grantLeft[k]); dec(exLeft[k]); dec(seenLeft[k]); dec(leaseLeft[k]); dec(propLeft[k]);
     dec(renLeft[SIDX(k, 0)]); dec(noVoteLeft[k]); dec(takeLeft[k]);
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

/* A new proposal by host n: epoch x, naming `to`, replacing `from`; sent
 * to every other voter, and to itself (looped back at once). */
inline propose(n, e, to, from) {
  assert(gProp[GIDX(n, boot[n], e)] == GNONE);  /* one proposal per (proposer, process, epoch): the ghost content is sound */
  lastProp[n] = e;
  gProp[GIDX(n, boot[n], e)] = GP(from, to);
  propE[n] = e; propVotes[n] = 0;
  sendProposal(n);
  onPropose(n, n, MSG(e, boot[n]))
}

/* ------------------------------------------------------------- actions */
/* Every action is one guarded d_step, written out per host and per message
 * slot by the macros below (no scanning loops: a step of the search is one
 * action, and no scratch variable survives it). */

/* holderTick: send a renewal to every host (the old one in flight is given up) */
inline renew(n) {
  j = 0;
  do
  :: j < N ->
     /* the slot's old renewal is forgotten: its messages count as lost */
     mRenew[RIDX(n, j, 0)] = 0; mGrant[RIDX(j, n, 0)] = 0;
     if :: j != n -> mRenew[RIDX(n, j, 0)] = MSG(epoch[n], boot[n]) :: else -> skip fi;
     j++
  :: else -> break
  od;
  renUsed[SIDX(n, 0)] = 1; renGrants[SIDX(n, 0)] = 0; renLeft[SIDX(n, 0)] = HLEASE;
  renewed[n] = 1; lapsedLast[n] = 0;
  onRenew(n, n, 0, MSG(epoch[n], boot[n]))   /* to self: looped back at once */
}

/* holderTick, lapsed: a lapsed renewal to every host instead of a renewal.
 * The holder's renewals go (no grant for them, or any before, will count:
 * lapsedSeq), with their renews and grants still in flight (a renew sent
 * before the lapsed one and delivered after it only makes its voter grant
 * a renewal nobody counts: left out, see README); a voter's running grant
 * to this holder is now one made before this lapsed (grantPre). */
inline lapse(n) {
#ifndef BROKEN_LAPSED_EARLY
  assert(!vipUp[n] && leaseLeft[n] == 0);   /* sendLapsed: its lease ended (an actuation guard ago) */
#endif
  j = 0;
  do
  :: j < N ->
#ifndef BROKEN_LAPSED_KEEPS_RENEWALS
     mRenew[RIDX(n, j, 0)] = 0; mGrant[RIDX(j, n, 0)] = 0;
#endif
     if :: grantLeft[j] > 0 && grantHolder[j] == n -> grantPre[j] = 1 :: else -> skip fi;
     if :: j != n -> mLap[PIDX(n, j)] = MSG(epoch[n], boot[n]) :: else -> skip fi;
     j++
  :: else -> break
  od;
#ifndef BROKEN_LAPSED_KEEPS_RENEWALS
  clearRenewals(n);                 /* lapsedSeq = renewSeq; renewals = [] */
#endif
  renewed[n] = 1;                   /* lastRenewSentMs = now */
  lapsedLast[n] = 1;
  onLapsed(n, n, MSG(epoch[n], boot[n]))   /* to self: looped back at once */
}

/* voterTick: a pending proposal is voted for once nothing stands in the
 * way; re-checked against the voter's view first */
inline voterTick(n) {
  x = VPP(pendP[n]); pb = VPB(pendP[n]); pe = pendE[n];
  pc = GFROM(GIDX(x, pb, pe)); pt = GTO(GIDX(x, pb, pe));
  if
  :: pendE[n] <= votedEpoch[n] || pendE[n] <= epoch[n] -> pendE[n] = 0; pendP[n] = 0
  :: else ->
     assert(pt != NONE);
     if
     :: !REASON_SUPPORTED(n, pt, pc) -> pendE[n] = 0; pendP[n] = 0
     :: else ->
        if
        :: MAY_VOTE_NOW(n, x, pb, pc) -> pendE[n] = 0; pendP[n] = 0; castVote(n, x, pb, pe, pt)
        :: else -> skip
        fi
     fi
  fi
}

/* A crash: every volatile thing goes (the VIP with the process: the shell
 * removes a stale one before it starts again), grants it gave are
 * forgotten, messages to it are lost from now on (gc), votes and grants
 * on their way to it are for a process that is gone. */
inline crash(n) {
  crashes++;
  down[n] = 1; boot[n] = 1;
  vipUp[n] = 0; role[n] = FOLLOWER; leaseLeft[n] = 0; takeLeft[n] = 0; renewed[n] = 0; lapsedLast[n] = 0;
  grantLeft[n] = 0; grantEpoch[n] = 0; grantHolder[n] = 0; grantBoot[n] = 0; grantPre[n] = 0; exLeft[n] = 0; exHolder[n] = 0; seenLeft[n] = 0; noVoteLeft[n] = 0;
  pendE[n] = 0; pendP[n] = 0; votedProp[n] = NONE;
  propE[n] = 0; propVotes[n] = 0; propLeft[n] = 0; lastProp[n] = 0;
  clearRenewals(n);
  j = 0;
  do
  :: j < N -> mVote[PIDX(j, n)] = 0; mGrant[RIDX(j, n, 0)] = 0; j++
  :: else -> break
  od
}

/* Host n's own tick (holderTick, voterTick, proposerTick) and the
 * handover request, each action whenever its guard holds. The rank and
 * back-off waits of proposerTick are left out (they only order the
 * candidates, which may all propose in the model), as is the holder's
 * stand-aside (it only withholds renewals). */
#define HOST(n) \
  :: d_step { !down[n] && holder[n] == n && role[n] != FOLLOWER && !renewed[n] && NOT_LOST_HOLDER(n) && \
              !((role[n] == ACQUIRING || role[n] == SAFEMODE) && votedEpoch[n] > epoch[n] && grantEpoch[n] == votedEpoch[n] && grantLeft[n] > 0) -> \
       renew(n); TR("%c renews\n", 65 + n); check(); clearScratch() } \
  :: d_step { LAPSES && !down[n] && holder[n] == n && MAY_LAPSE(n) && (!renewed[n] || renUsed[SIDX(n, 0)]) && NOT_LOST_HOLDER(n) && \
              !((role[n] == ACQUIRING || role[n] == SAFEMODE) && votedEpoch[n] > epoch[n] && grantEpoch[n] == votedEpoch[n] && grantLeft[n] > 0) -> \
       lapse(n); TR("%c says it lapsed\n", 65 + n); check(); clearScratch() } \
  :: d_step { !down[n] && pendE[n] != 0 -> \
       voterTick(n); TR("%c: voterTick\n", 65 + n); check(); clearScratch() } \
  :: d_step { !down[n] && propE[n] != 0 -> \
       sendProposal(n); TR("%c re-sends its proposal\n", 65 + n); check(); clearScratch() } \
  :: d_step { !down[n] && propE[n] != 0 && REJECTED(n) && GFROM(GIDX(n, boot[n], propE[n])) != n -> \
       propE[n] = 0; propVotes[n] = 0; propLeft[n] = 0; TR("%c backs off\n", 65 + n); check(); clearScratch() } \
  REPROPOSE(n, 2) REPROPOSE(n, 3) \
  :: d_step { !down[n] && propE[n] != 0 && GFROM(GIDX(n, boot[n], propE[n])) == n -> \
       propE[n] = 0; propVotes[n] = 0; propLeft[n] = 0; \
       if :: role[n] == HANDING -> role[n] = (vipUp[n] -> HOLDING : SAFEMODE) :: else -> skip fi; \
       TR("%c gives up its planned move\n", 65 + n); check(); clearScratch() } \
  NEWPROP(n, 1) NEWPROP(n, 2) NEWPROP(n, 3) \
  HANDOVER(n, ((n) + 1) % N, 1) HANDOVER(n, ((n) + 1) % N, 2) HANDOVER(n, ((n) + 1) % N, 3) \
  HANDOVER(n, ((n) + 2) % N, 1) HANDOVER(n, ((n) + 2) % N, 2) HANDOVER(n, ((n) + 2) % N, 3) \
  CRASH(n) RESTART(n)

/* -DNO_LAPSE: no lapsed renewals (the model before issue 14): see
 * scripts/check-model.sh for why the default run checks it apart */
#ifdef NO_LAPSE
#define LAPSES  0
#else
#define LAPSES  1
#endif
/* lapsed(s): a certified holder without a lease, its lease over, and no
 * other voter has granted its live renewal (that would make
 * answeredSentAtMs too recent). The code waits longer (answeredSentAtMs +
 * lapsedAfterMs, askedSinceMs), which implies this and only times it. One
 * lapsed renewal per renewal interval, the first at once: the HOST action's
 * guard lets it go when the interval has passed, or when what went in this
 * tick was a renewal (renUsed: lapse() clears it). A lapsed renewal with no
 * renewal since the last one (lapsedLast) is left out: with nothing granted
 * or sent in between it only re-sends the same messages, and any one of
 * them may already stay in flight as long as it likes (smaller state space;
 * README, "Lapsed renewals"). */
#ifdef BROKEN_LAPSED_EARLY
#define MAY_LAPSE(n)  (role[n] == ACQUIRING || role[n] == SAFEMODE || role[n] == HOLDING)   /* BUG: its lease may run */
#else
#define MAY_LAPSE(n)  ((role[n] == ACQUIRING || role[n] == SAFEMODE) && leaseLeft[n] == 0 && \
                       !lapsedLast[n] && (renGrants[SIDX(n, 0)] | BIT(n)) == BIT(n))
#endif

/* proposerTick: a reject at or above a planned proposal arrived: the same
 * move at rejectedEpochMax + 1, anything from above it up to REJ_MAX + 1
 * (within the planned-move timeout; after it, the move is given up: the
 * action above) */
#define REPROPOSE(n, e) \
  :: d_step { (e) <= EMAX && !down[n] && propE[n] != 0 && propE[n] < (e) && REJECTED(n) && (e) <= REJ_MAX(n) + 1 && \
              GFROM(GIDX(n, boot[n], propE[n])) == n && !PROPOSED_FROM(n, e) -> \
       t = GTO(GIDX(n, boot[n], propE[n])); \
       propE[n] = 0; propVotes[n] = 0; \
       propose(n, e, t, n); \
       TR("%c, rejected, proposes its move to %c again at epoch %d\n", 65 + n, 65 + t, e); check(); clearScratch() }

/* proposerTick: the holder is lost (or there is none): propose itself for
 * max(epoch, votedEpoch, rejectedEpochMax) + 1, where rejectedEpochMax is
 * whatever rejects have arrived: 0 up to REJ_MAX */
#define NEWPROP(n, e) \
  :: d_step { (e) <= EMAX && !down[n] && propE[n] == 0 && holder[n] != n && HOLDER_LOST(n) && NOT_LOST(n) && \
              (e) > MAX(epoch[n], votedEpoch[n]) && (e) <= MAX(epoch[n], REJ_MAX(n)) + 1 && !PROPOSED_FROM(n, e) -> \
       propLeft[n] = HLEASE; \
       propose(n, e, n, holder[n]); \
       TR("%c proposes itself at epoch %d (from %d)\n", 65 + n, e, holder[n]); check(); clearScratch() }

/* handover-requested (the operator, or the forecast): the holder, holding,
 * asks to move to candidate `to` at the next epoch */
#ifndef NO_HANDOVER
#define HANDOVER(n, to, e) \
  :: d_step { (e) <= EMAX && !down[n] && holder[n] == n && role[n] == HOLDING && propE[n] == 0 && NOT_LOST(n) && \
              (e) > MAX(epoch[n], votedEpoch[n]) && (e) <= MAX(epoch[n], REJ_MAX(n)) + 1 && !PROPOSED_FROM(n, e) -> \
       role[n] = HANDING; \
       propLeft[n] = 0; \
       propose(n, e, to, n); \
       TR("%c proposes to hand over to %c at epoch %d\n", 65 + n, 65 + (to), e); check(); clearScratch() }
#else
#define HANDOVER(n, to, e)
#endif

/* A host crashes (at most CRASHMAX times in all); its record stays, or
 * with VOTE_FILE_LOSS it may be lost with its disk: initialQuorum(config,
 * null, now). A crashed host restarts whenever: initialQuorum from its
 * record, and the restart wait (no vote, no grant) before it promises
 * anything again. */
#if CRASHMAX > 0
#ifdef VOTE_FILE_LOSS
#define CRASH_LOSING_FILE(n) \
  :: d_step { crashes < CRASHMAX && !down[n] -> \
       crash(n); \
       epoch[n] = 0; holder[n] = NONE; votedEpoch[n] = 0; lostFile[n] = 1; \
       TR("%c crashes and loses its vote file\n", 65 + n); check(); clearScratch() }
#else
#define CRASH_LOSING_FILE(n)
#endif
#define CRASH(n) \
  :: d_step { crashes < CRASHMAX && !down[n] -> \
       crash(n); TR("%c crashes\n", 65 + n); check(); clearScratch() } \
  CRASH_LOSING_FILE(n)
#define RESTART(n) \
  :: d_step { down[n] -> \
       down[n] = 0; \
       role[n] = (holder[n] == n -> ACQUIRING : FOLLOWER); \
       noVoteLeft[n] = RWAIT; \
       /* named by a planned move: the word in person went to the dead process */ \
       takeLeft[n] = ((holder[n] == n && certPlanned[epoch[n]]) -> TWAIT : 0); \
       TR("%c restarts\n", 65 + n); check(); clearScratch() }
#else
#define CRASH(n)
#define RESTART(n)
#endif

/* A propose p -> v in slot PIDX(p, v) is delivered (onReceived "propose"
 * -> onPropose), or lost. */
#define PROPOSE_AT(s) \
  :: d_step { mProp[s] != 0 -> \
       z = mProp[s]; mProp[s] = 0; onPropose((s) % N, (s) / N, z); \
       TR("%c gets %c's propose of epoch %d (boot %d)\n", 65 + (s) % N, 65 + (s) / N, ME(z), MB(z)); check(); clearScratch() } \
  :: d_step { mProp[s] != 0 -> \
       TR("propose %c->%c lost\n", 65 + (s) / N, 65 + (s) % N); mProp[s] = 0; clearScratch() }

/* a vote v -> p in slot PIDX(v, p) is delivered or lost */
#define VOTE_AT(s) \
  :: d_step { mVote[s] != 0 -> \
       z = mVote[s]; mVote[s] = 0; \
       TR("%c gets %c's vote for epoch %d\n", 65 + (s) % N, 65 + (s) / N, ME(z)); \
       onVote((s) % N, (s) / N, z); check(); clearScratch() } \
  :: d_step { mVote[s] != 0 -> \
       TR("vote %c->%c lost\n", 65 + (s) / N, 65 + (s) % N); mVote[s] = 0; clearScratch() }

/* a renew h -> v in slot RIDX(h, v, 0) is delivered or lost */
#define RENEW_AT(s) \
  :: d_step { mRenew[s] != 0 -> \
       z = mRenew[s]; mRenew[s] = 0; onRenew((s) % N, (s) / N, 0, z); \
       TR("%c gets %c's renew of epoch %d\n", 65 + (s) % N, 65 + (s) / N, ME(z)); check(); clearScratch() } \
  :: d_step { mRenew[s] != 0 -> \
       TR("renew %c->%c lost\n", 65 + (s) / N, 65 + (s) % N); mRenew[s] = 0; clearScratch() }

/* a grant v -> h in slot RIDX(v, h, 0) is delivered or lost */
#define GRANT_AT(s) \
  :: d_step { mGrant[s] != 0 -> \
       z = mGrant[s]; mGrant[s] = 0; onGrant((s) % N, (s) / N, 0, z); \
       TR("%c gets %c's grant of epoch %d\n", 65 + (s) % N, 65 + (s) / N, z); check(); clearScratch() } \
  :: d_step { mGrant[s] != 0 -> \
       TR("grant %c->%c lost\n", 65 + (s) / N, 65 + (s) % N); mGrant[s] = 0; clearScratch() }

/* a lapsed h -> v in slot PIDX(h, v) is delivered or lost */
#define LAPSED_AT(s) \
  :: d_step { mLap[s] != 0 -> \
       z = mLap[s]; mLap[s] = 0; onLapsed((s) % N, (s) / N, z); \
       TR("%c gets %c's lapsed of epoch %d (boot %d)\n", 65 + (s) % N, 65 + (s) / N, ME(z), MB(z)); check(); clearScratch() } \
  :: d_step { mLap[s] != 0 -> \
       TR("lapsed %c->%c lost\n", 65 + (s) / N, 65 + (s) % N); mLap[s] = 0; clearScratch() }

/* the in-person certificate of a planned move to host n is delivered or lost */
#define INPERSON_AT(n) \
  :: d_step { mInP[n] != 0 -> \
       z = mInP[n]; mInP[n] = 0; onCertificate(n, z, 1); \
       TR("%c gets the certificate of epoch %d in person\n", 65 + n, z); check(); clearScratch() } \
  :: d_step { mInP[n] != 0 -> \
       TR("in-person certificate to %c lost\n", 65 + n); mInP[n] = 0; clearScratch() }

/* A certificate arrives at host n, not in person (sent on forming, as the
 * basis of a propose, in answer to a stale renew or propose, or to a
 * cert-request). Over-approximated: any certificate formed so far, at any
 * time after. */
#define CERT_AT(n, e) \
  :: d_step { (e) <= EMAX && !down[n] && certHolder[e] != NONE && (e) > epoch[n] -> \
       onCertificate(n, e, 0); \
       TR("%c learns the certificate of epoch %d\n", 65 + n, e); check(); clearScratch() }

init {
  d_step {
    k = 0;
    do
    :: k < N -> holder[k] = NONE; votedProp[k] = NONE; k++
    :: else -> break
    od;
    k = 0;
    do
    :: k < E1 -> certHolder[k] = NONE; k++
    :: else -> break
    od;
    k = 0;
    do
    :: k < N * 2 * E1 -> gProp[k] = GNONE; k++
    :: else -> break
    od;
    clearScratch()
  };
  do
  /* time passes */
  :: d_step { tick(); TR("tick\n"); check(); clearScratch() }
  /* messages (slots p*N + v with p == v are never used: messages to self are looped back) */
  PROPOSE_AT(1) PROPOSE_AT(2) PROPOSE_AT(3) PROPOSE_AT(5) PROPOSE_AT(6) PROPOSE_AT(7)
  VOTE_AT(1) VOTE_AT(2) VOTE_AT(3) VOTE_AT(5) VOTE_AT(6) VOTE_AT(7)
  RENEW_AT(1) RENEW_AT(2) RENEW_AT(3) RENEW_AT(5) RENEW_AT(6) RENEW_AT(7)
  GRANT_AT(1) GRANT_AT(2) GRANT_AT(3) GRANT_AT(5) GRANT_AT(6) GRANT_AT(7)
  LAPSED_AT(1) LAPSED_AT(2) LAPSED_AT(3) LAPSED_AT(5) LAPSED_AT(6) LAPSED_AT(7)
  INPERSON_AT(0) INPERSON_AT(1) INPERSON_AT(2)
  CERT_AT(0, 1) CERT_AT(0, 2) CERT_AT(0, 3)
  CERT_AT(1, 1) CERT_AT(1, 2) CERT_AT(1, 3)
  CERT_AT(2, 1) CERT_AT(2, 2) CERT_AT(2, 3)
  /* the hosts */
  HOST(0) HOST(1) HOST(2)
  od
}
