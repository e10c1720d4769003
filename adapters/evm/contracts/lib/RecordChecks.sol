// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ConsentMirror} from "../ConsentMirror.sol";
import {Anchor, MedrelayEip712} from "./MedrelayEip712.sol";

/// @notice The delivery-time rule for a record anchor arriving from another chain (RecordProofStore,
///         ReferralGateway): the patient's consent must be active in the local ConsentMirror for (source chain,
///         patient, recipient) at delivery time, and the institution's EIP-712 signature must verify under the
///         SOURCE chain's domain.
library RecordChecks {
    /// Why an anchor was refused (first failing check).
    enum Refusal {
        None,
        UnknownConsent,
        ConsentRevoked,
        ConsentNotYetValid,
        ConsentExpired,
        ConsentWrongSourceChain,
        ConsentWrongPatient,
        WrongRecipient,
        BadSignature
    }

    function check(
        ConsentMirror mirror,
        bytes32 recipient,
        uint64 sourceChain,
        Anchor memory a,
        bytes32 consentId,
        bytes memory signature,
        uint64 time
    ) internal view returns (Refusal) {
        ConsentMirror.Status s = mirror.check(consentId, sourceChain, a.patient, recipient, time);
        if (s != ConsentMirror.Status.Active) return _refusal(s);
        (address signer, MedrelayEip712.SigError err) =
            MedrelayEip712.tryRecover(MedrelayEip712.anchorDigest(a, sourceChain), signature);
        if (err != MedrelayEip712.SigError.None || signer != a.institution) return Refusal.BadSignature;
        return Refusal.None;
    }

    function _refusal(ConsentMirror.Status s) private pure returns (Refusal) {
        if (s == ConsentMirror.Status.Unknown) return Refusal.UnknownConsent;
        if (s == ConsentMirror.Status.Revoked) return Refusal.ConsentRevoked;
        if (s == ConsentMirror.Status.NotYetValid) return Refusal.ConsentNotYetValid;
        if (s == ConsentMirror.Status.Expired) return Refusal.ConsentExpired;
        if (s == ConsentMirror.Status.WrongSourceChain) return Refusal.ConsentWrongSourceChain;
        if (s == ConsentMirror.Status.WrongPatient) return Refusal.ConsentWrongPatient;
        return Refusal.WrongRecipient;
    }
}
