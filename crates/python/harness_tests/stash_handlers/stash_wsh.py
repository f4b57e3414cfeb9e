# WPT's stash handlers' way: wptserve.stash imported and configured when the file loads
# (WPT_STASH_CONFIG, set by the harness's StashServer); messages "put KEY VALUE" and
# "take KEY" go to the shared stash, so one connection takes what another put.

from wptserve import stash

address, authkey = stash.load_env_config()
shared = stash.Stash('/stash_wsh', address=address, authkey=authkey)


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while True:
        line = request.ws_stream.receive_message()
        if line is None:
            return
        words = line.split(' ', 2)
        if words[0] == 'put':
            shared.put(words[1], words[2])
            request.ws_stream.send_message('ok', binary=False)
        elif words[0] == 'take':
            request.ws_stream.send_message(repr(shared.take(words[1])), binary=False)
