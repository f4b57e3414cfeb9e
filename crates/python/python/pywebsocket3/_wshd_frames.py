"""Frame-level reading on ``request.ws_stream``, for handlers that bypass messages.

Chromium's web tests read single raw frames (``_receive_frame``,
``_receive_frame_as_frame_object``), reassemble them (``_get_message_from_frame``)
and run the closing handshake for a close frame they read themselves
(``_process_close_message``). The stream object (implemented by the server) calls
these functions; they read through ``stream.receive_bytes``, so the frames never
pass the server's own frame parser, exactly as with pywebsocket, and compressed
payloads arrive compressed. This is not a general frame API: messages should be
received with ``receive_message``.
"""

import struct

from pywebsocket3 import common
from pywebsocket3 import stream as stream_module
from pywebsocket3._stream_exceptions import InvalidFrameException
from pywebsocket3._stream_exceptions import InvalidUTF8Exception


def receive_frame(stream):
    """One frame as (opcode, payload, fin, rsv1, rsv2, rsv3), payload unmasked."""
    return stream_module.parse_frame(receive_bytes=stream.receive_bytes,
                                     unmask_receive=True)


def receive_frame_as_frame_object(stream):
    opcode, payload, fin, rsv1, rsv2, rsv3 = receive_frame(stream)
    return stream_module.Frame(fin=fin, rsv1=rsv1, rsv2=rsv2, rsv3=rsv3,
                               opcode=opcode, payload=payload)


def get_message_from_frame(stream, frame):
    """The message ``frame`` completes, or None while a fragmented one goes on.

    Raises InvalidFrameException for a continuation without a started message,
    a new message inside a fragmented one, and a fragmented control frame.
    """
    fragments = getattr(stream, '_wshd_fragments', None)
    if frame.opcode == common.OPCODE_CONTINUATION:
        if not fragments:
            raise InvalidFrameException(
                'Received a continuation frame but no fragmented message '
                'was started')
        fragments.append(frame.payload)
        if not frame.fin:
            return None
        stream._wshd_fragments = None
        return b''.join(fragments)
    if fragments:
        raise InvalidFrameException(
            'Received a new frame (opcode %d) before the fragmented message '
            'ended' % frame.opcode)
    stream._wshd_last_opcode = frame.opcode
    if frame.fin:
        return frame.payload
    if common.is_control_opcode(frame.opcode):
        raise InvalidFrameException('Control frames must not be fragmented')
    stream._wshd_fragments = [frame.payload]
    return None


def process_close_message(stream, message):
    """The closing handshake for a close frame the handler read itself.

    Sets ``ws_close_code`` (1005 for an empty body), ``ws_close_reason`` and
    ``client_terminated``; unless our close was already sent, answers with the
    handler's passive closing handshake (default 1000) and sets
    ``server_terminated``.
    """
    request = stream._request
    request.client_terminated = True
    if len(message) == 0:
        code, reason = common.STATUS_NO_STATUS_RECEIVED, ''
    elif len(message) == 1:
        raise InvalidFrameException(
            'If a close frame has status code, the length of status code '
            'must be 2 octets')
    else:
        code = struct.unpack('!H', message[0:2])[0]
        try:
            reason = message[2:].decode('utf-8')
        except UnicodeDecodeError as e:
            raise InvalidUTF8Exception(
                'Close reason is not valid UTF-8: %s' % e)
    request.ws_close_code = code
    request.ws_close_reason = reason
    if request.server_terminated:
        return
    code, reason = stream._wshd_passive_reply()
    body = stream_module.create_closing_handshake_body(code, reason)
    stream._write(stream_module.create_close_frame(body))
    request.server_terminated = True
