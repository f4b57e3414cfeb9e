# Runs wstest with every client connection offering permessage-deflate.
#
# Autobahn's fuzzing client offers compression only in case groups 12 and 13,
# and its JSON spec cannot carry offers (they are Python objects). This wrapper
# sets the offer in the client factory's defaults, which every connection
# copies, so groups 1-10 run with compression negotiated: their frames are
# sent uncompressed (valid under RFC 7692) while the server compresses its
# echoes and must still treat RSV1 and everything else strictly. Cases that
# set their own offers (12.x, 13.x) keep them.
#
# Usage: python2.7 wstest_offer_deflate.py -m fuzzingclient -s spec.json
# (run.sh --offer-deflate does this). Python 2.7, as wstest itself.
import sys

from autobahn.websocket import protocol
from autobahn.websocket.compress import (PerMessageDeflateOffer,
                                         PerMessageDeflateResponse,
                                         PerMessageDeflateResponseAccept)

_reset = protocol.WebSocketClientFactory.resetProtocolOptions


def _accept(response):
    if isinstance(response, PerMessageDeflateResponse):
        return PerMessageDeflateResponseAccept(response)
    return None


def _reset_with_offer(self):
    _reset(self)
    self.perMessageCompressionOffers = [
        PerMessageDeflateOffer(acceptNoContextTakeover=True,
                               acceptMaxWindowBits=True)]
    self.perMessageCompressionAccept = _accept


protocol.WebSocketClientFactory.resetProtocolOptions = _reset_with_offer

from autobahntestsuite.wstest import run  # noqa: E402 (after the patch)

sys.argv[0] = "wstest"
sys.exit(run())
