// Vote signatures: a vote leaves this host signed with its key, and a vote
// or certificate arrives only with valid signatures of configured voters
// (a certificate is a proof only if every signature in it checks out).

import { assertNever } from "../shared/assert.ts";
import type { ErrorCode } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import { sign, verify } from "../shared/identity.ts";
import type { Certificate, QuorumMsg, QuorumOut } from "../decide/index.ts";
import { voteSigningBytes, type WireMsg } from "../mesh/index.ts";

export type Signatures = {
  /** The message as it goes on the wire: a vote signed, anything else as it is. */
  sign(msg: QuorumOut): QuorumMsg;
  /** Whether a message from a peer may enter the host core; a bad signature is logged. */
  verify(from: HostId, msg: WireMsg): boolean;
};

export function signatures(secretKey: Buffer, publicKeys: ReadonlyMap<HostId, Buffer>, log: Logger): Signatures {
  /** Why a signature does not count: its voter is no configured host, or the signature is wrong. */
  const refusal = (pk: Buffer | undefined): ErrorCode => (pk === undefined ? "peer_unknown" : "signature_invalid");
  const certOk = (from: HostId, cert: Certificate | null): boolean => {
    if (cert === null) return true;
    for (const v of cert.votes) {
      const pk = publicKeys.get(v.voter);
      if (pk === undefined || !verify(pk, voteSigningBytes(cert), Buffer.from(v.sig, "hex"))) {
        log("warn", "mesh", "bad-signature", { code: refusal(pk), peer: from, service: cert.service, epoch: cert.epoch, voter: v.voter });
        return false;
      }
    }
    return true;
  };
  return {
    sign: (msg) => (msg.type === "vote" ? { ...msg, sig: sign(secretKey, voteSigningBytes(msg)).toString("hex") } : msg),
    verify(from, msg) {
      switch (msg.type) {
        case "vote": {
          const pk = publicKeys.get(msg.voter);
          const ok = pk !== undefined && msg.voter === from && verify(pk, voteSigningBytes(msg), Buffer.from(msg.sig, "hex"));
          if (!ok) log("warn", "mesh", "bad-signature", { code: refusal(pk), peer: from, service: msg.service, epoch: msg.epoch, voter: msg.voter });
          return ok;
        }
        case "certificate":
          return certOk(from, msg.cert);
        case "propose":
          return certOk(from, msg.basis);
        case "ack":
        case "ping":
        case "ping-req":
        case "beacon":
        case "reject":
        case "renew":
        case "grant":
        case "lapsed":
        case "lapsed-ack":
        case "cert-request":
        case "statement": // signed by an operator: checked against [[operators]] (operators.ts)
          return true; // unsigned: what they say rests on the sender's own authenticated connection
        default:
          return assertNever(msg);
      }
    },
  };
}
