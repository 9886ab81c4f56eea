#!/usr/bin/python3
"""MQTT 3.1.1 interoperability scenarios run with the Eclipse Paho Python client (Debian python3-paho-mqtt).

The scenarios are those of Paho's MQTT 3.1.1 client test suite (paho.mqtt.testing, interoperability/
client_test.py), written again here against the Paho client library: basic publish/subscribe, retained
messages, will message, zero-length client id, offline queueing, overlapping subscriptions, keepalive,
redelivery on reconnect, `$` topics, unsubscribe and subscribe failure. Each one is named after the spec
section it checks (MQTT 3.1.1, OASIS Standard, 29 October 2014).

Two brokers may be given: the publishing client connects to the first, the subscribing one to the second, and
a persistent session is resumed on the other broker from the one it was made on. With one broker both are the
same. The broker runs in development (anonymous) mode. Its "nosubscribe" topic, the filter it refuses, is a
`$share/` filter: shared subscriptions are unsupported and refused with 0x80 (broker/authorize.ts).

Usage: paho_311.py HOST:PORT [HOST:PORT] [--only NAME]
Prints one JSON object per scenario: {"name", "ok", "detail"}; exit status 0 when every scenario passed.
"""

import json
import socket
import sys
import threading
import time
import traceback

import paho.mqtt.client as mqtt

TOPICS = ("TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA")
WILDTOPICS = ("TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#")
NOSUBSCRIBE = "$share/paho/TopicA"
CLIENT_IDS = ("myclientid", "myclientid2")
WAIT_S = 5.0


class Failed(Exception):
    pass


def check(cond, detail):
    if not cond:
        raise Failed(detail)


class Client:
    """A Paho client with what it received recorded, its network loop on a thread."""

    def __init__(self, addr, client_id="", clean=True, keepalive=60, will=None, loop=True):
        self.messages = []
        self.subacks = []
        self.connacks = []
        self.disconnects = []
        self.cond = threading.Condition()
        self.c = mqtt.Client(client_id=client_id, clean_session=clean, protocol=mqtt.MQTTv311)
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        if will is not None:
            self.c.will_set(*will)
        host, port = addr
        self.c.connect(host, port, keepalive=keepalive)
        if loop:
            self.c.loop_start()
            self.wait(lambda: self.connacks, "CONNACK")
        else:
            # No network thread: drive the loop only until CONNACK, then send and read nothing more.
            end = time.time() + WAIT_S
            while not self.connacks and time.time() < end:
                self.c.loop(0.1)
            check(self.connacks, "no CONNACK")

    def _notify(self):
        with self.cond:
            self.cond.notify_all()

    def _on_message(self, _c, _u, msg):
        self.messages.append((msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))
        self._notify()

    def _on_subscribe(self, _c, _u, mid, granted):
        self.subacks.append(list(granted))
        self._notify()

    def _on_connect(self, _c, _u, flags, rc):
        self.connacks.append((rc, flags.get("session present", 0)))
        self._notify()

    def _on_disconnect(self, _c, _u, rc):
        self.disconnects.append(rc)
        self._notify()

    def wait(self, pred, what, timeout=WAIT_S):
        end = time.time() + timeout
        with self.cond:
            while not pred():
                left = end - time.time()
                check(left > 0, "timed out waiting for %s" % what)
                self.cond.wait(left)

    def subscribe(self, subs):
        n = len(self.subacks)
        self.c.subscribe(subs)
        self.wait(lambda: len(self.subacks) > n, "SUBACK")
        return self.subacks[n]

    def unsubscribe(self, topics):
        done = threading.Event()
        self.c.on_unsubscribe = lambda *_: done.set()
        self.c.unsubscribe(topics)
        check(done.wait(WAIT_S), "no UNSUBACK")

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.c.publish(topic, payload, qos, retain)
        if qos > 0:
            info.wait_for_publish(WAIT_S)
            check(info.is_published(), "publish to %s at QoS %d not acknowledged" % (topic, qos))

    def disconnect(self):
        self.c.disconnect()
        self.c.loop_stop()

    def drop(self):
        """Closes the TCP connection without DISCONNECT: an abnormal disconnect for the broker (§3.1.2.5)."""
        self.c.loop_stop()
        sock = self.c.socket()
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def settle(seconds=0.5):
    time.sleep(seconds)


def cleanup(pub, sub):
    """As the Paho suite's cleanup: no retained messages on the test topics, no sessions of its client ids."""
    for cid, addr in ((CLIENT_IDS[0], sub), (CLIENT_IDS[1], pub), (CLIENT_IDS[0], pub), (CLIENT_IDS[1], sub)):
        c = Client(addr, cid, clean=True)
        c.disconnect()
    c = Client(pub, "clean-retained")
    c.subscribe([("#", 0)])
    settle(0.5)
    for topic in {m[0] for m in c.messages if m[3]}:
        c.publish(topic, b"", 1, retain=True)
    c.disconnect()


# ---- scenarios, named after the section of MQTT 3.1.1 they check ----------------------------------------


def s3_3_basic_publish_subscribe_qos012(pub, sub):
    """§3.3, §4.3: a subscriber at QoS 2 receives messages published at QoS 0, 1 and 2 at those QoS."""
    s = Client(sub)
    check(s.subscribe([(TOPICS[0], 2)]) == [2], "SUBACK granted %r, expected [2]" % s.subacks)
    p = Client(pub)
    for qos in (0, 1, 2):
        p.publish(TOPICS[0], b"qos %d" % qos, qos)
    s.wait(lambda: len(s.messages) >= 3, "3 messages")
    settle(0.2)
    got = sorted((m[1], m[2]) for m in s.messages)
    check(got == [(b"qos 0", 0), (b"qos 1", 1), (b"qos 2", 2)], "received %r" % got)
    p.disconnect()
    s.disconnect()


def s3_3_1_3_retained_messages(pub, sub):
    """§3.3.1.3: a retained message at QoS 0/1/2 goes to new subscribers; an empty retained message clears it."""
    p = Client(pub)
    p.publish(TOPICS[1], b"qos 0", 0, retain=True)
    p.publish(TOPICS[2], b"qos 1", 1, retain=True)
    p.publish(TOPICS[3], b"qos 2", 2, retain=True)
    settle(0.3)
    s = Client(sub)
    s.subscribe([(WILDTOPICS[5], 2)])
    s.wait(lambda: len(s.messages) >= 3, "3 retained messages")
    settle(0.2)
    got = sorted((m[0], m[1], m[2], m[3]) for m in s.messages)
    want = sorted([(TOPICS[1], b"qos 0", 0, True), (TOPICS[2], b"qos 1", 1, True), (TOPICS[3], b"qos 2", 2, True)])
    check(got == want, "retained received %r, expected %r" % (got, want))
    s.disconnect()
    # [MQTT-3.3.1-10] A zero-byte retained message removes the retained message of the topic.
    for t in (TOPICS[1], TOPICS[2], TOPICS[3]):
        p.publish(t, b"", 1, retain=True)
    settle(0.3)
    s = Client(sub)
    s.subscribe([(WILDTOPICS[5], 2)])
    settle(1.0)
    check(s.messages == [], "after clearing, still received %r" % s.messages)
    s.disconnect()
    p.disconnect()


def s3_1_2_5_will_message(pub, sub):
    """§3.1.2.5: the Will Message is published when the network connection is closed without DISCONNECT."""
    s = Client(sub)
    s.subscribe([(TOPICS[2], 2)])
    w = Client(pub, CLIENT_IDS[0], will=(TOPICS[2], b"client not disconnected", 0, False))
    w.drop()
    s.wait(lambda: len(s.messages) >= 1, "the will message")
    check(s.messages[0][:2] == (TOPICS[2], b"client not disconnected"), "received %r" % s.messages)
    # [MQTT-3.1.2-10] after DISCONNECT, no will.
    w2 = Client(pub, CLIENT_IDS[1], will=(TOPICS[2], b"should not be sent", 0, False))
    w2.disconnect()
    settle(1.0)
    check(len(s.messages) == 1, "will sent after a normal DISCONNECT: %r" % s.messages)
    s.disconnect()


def s3_1_3_1_zero_length_clientid(pub, sub):
    """§3.1.3.1: a zero-byte ClientId with CleanSession=1 is accepted [MQTT-3.1.3-6]; with CleanSession=0 it
    is refused with CONNACK 0x02 [MQTT-3.1.3-8]."""
    c = Client(pub, "", clean=True)
    check(c.connacks[0][0] == 0, "clean zero-length id refused: %r" % c.connacks)
    c.disconnect()
    # Paho answers a CONNACK 0x02 to an empty id by reconnecting with an id it makes up, so the refusal is read
    # on the wire: CONNECT (3.1.1, CleanSession=0, Keep Alive 60, zero-byte ClientId).
    sock = socket.create_connection(pub, timeout=WAIT_S)
    sock.sendall(b"\x10\x0c\x00\x04MQTT\x04\x00\x00\x3c\x00\x00")
    connack = sock.recv(4)
    check(connack == b"\x20\x02\x00\x02", "expected CONNACK 0x02, got %r" % connack)
    # [MQTT-3.2.2-5] the server closes the connection after a refusing CONNACK.
    check(sock.recv(1) == b"", "connection left open after CONNACK 0x02")
    sock.close()


def s3_1_2_4_offline_message_queueing(pub, sub):
    """§3.1.2.4, §4.1: QoS 1 and 2 messages published while a persistent session is offline are delivered when
    it reconnects (on the other broker, when two are given)."""
    s = Client(sub, CLIENT_IDS[0], clean=False)
    s.subscribe([(WILDTOPICS[5], 2)])
    s.disconnect()
    p = Client(pub, CLIENT_IDS[1])
    p.publish(TOPICS[1], b"qos 0", 0)
    p.publish(TOPICS[2], b"qos 1", 1)
    p.publish(TOPICS[3], b"qos 2", 2)
    p.disconnect()
    settle(0.5)
    s = Client(pub, CLIENT_IDS[0], clean=False)
    check(s.connacks[0][1] == 1, "session present not set on resume: %r" % s.connacks)
    s.wait(lambda: len(s.messages) >= 2, "queued messages")
    settle(1.0)
    got = sorted(m[1] for m in s.messages)
    # QoS 0 messages may be queued or not (§3.1.2.4); QoS 1 and 2 must be.
    check(got in ([b"qos 1", b"qos 2"], [b"qos 0", b"qos 1", b"qos 2"]), "received %r" % got)
    s.disconnect()
    Client(pub, CLIENT_IDS[0], clean=True).disconnect()


def s3_3_5_overlapping_subscriptions(pub, sub):
    """§3.3.5: with overlapping subscriptions the server delivers the message once at the maximum QoS granted,
    or once per subscription [MQTT-3.3.5-1]."""
    s = Client(sub)
    s.subscribe([(WILDTOPICS[6], 2), (WILDTOPICS[0], 1)])
    p = Client(pub)
    p.publish(TOPICS[3], b"overlapping topic filters", 2)
    s.wait(lambda: len(s.messages) >= 1, "a message")
    settle(0.5)
    qos = sorted(m[2] for m in s.messages)
    check(qos in ([2], [1, 2]), "received at QoS %r" % qos)
    p.disconnect()
    s.disconnect()


def s3_1_2_10_keepalive(pub, sub):
    """§3.1.2.10: a client silent for 1.5 × its Keep Alive is disconnected by the server, whose will then goes."""
    s = Client(sub)
    s.subscribe([(TOPICS[4], 2)])
    # No network loop after CONNACK: the client sends no PINGREQ.
    Client(pub, CLIENT_IDS[0], keepalive=2, will=(TOPICS[4], b"keepalive expiry", 0, False), loop=False)
    s.wait(lambda: len(s.messages) >= 1, "the will after keepalive expiry", timeout=10.0)
    check(s.messages[0][1] == b"keepalive expiry", "received %r" % s.messages)
    s.disconnect()


def s4_4_redelivery_on_reconnect(pub, sub):
    """§4.4: unacknowledged QoS 1 and 2 messages of a persistent session are sent again, DUP set, when it
    reconnects (on the other broker, when two are given) [MQTT-4.4.0-1]."""
    s = Client(sub, CLIENT_IDS[0], clean=False, loop=False)
    s.c.subscribe([(WILDTOPICS[6], 2)])
    end = time.time() + WAIT_S
    while not s.subacks and time.time() < end:
        s.c.loop(0.1)
    check(s.subacks, "no SUBACK")
    # From here the client reads nothing: the broker's PUBLISHes stay unacknowledged.
    p = Client(pub, CLIENT_IDS[1])
    p.publish(TOPICS[1], b"qos 1", 1)
    p.publish(TOPICS[3], b"qos 2", 2)
    p.disconnect()
    settle(0.5)
    sock = s.c.socket()
    sock.sendall(b"\xe0\x00")  # DISCONNECT, sent without reading what is pending
    sock.close()
    settle(0.3)
    s = Client(pub, CLIENT_IDS[0], clean=False)
    s.wait(lambda: len(s.messages) >= 2, "redelivered messages")
    settle(0.5)
    got = sorted((m[0], m[1]) for m in s.messages)
    check(got == [(TOPICS[1], b"qos 1"), (TOPICS[3], b"qos 2")], "received %r" % got)
    s.disconnect()
    Client(pub, CLIENT_IDS[0], clean=True).disconnect()


def s4_7_2_dollar_topics(pub, sub):
    """§4.7.2: filters starting with a wildcard do not match topic names starting with `$` [MQTT-4.7.2-1]. The
    broker publishes `$SYS/{id}/new/clients` on every connect: a `$SYS/#` subscriber sees it, a `#` one must
    not."""
    dollar = Client(sub)
    dollar.subscribe([("$SYS/+/new/clients", 0)])
    s = Client(sub)
    s.subscribe([(WILDTOPICS[2], 2), (WILDTOPICS[5], 2)])
    Client(pub, "dollar-trigger").disconnect()
    dollar.wait(lambda: len(dollar.messages) >= 1, "a $SYS/+/new/clients message (control)")
    p = Client(pub)
    p.publish("$" + TOPICS[1], b"", 1)
    settle(1.0)
    leaked = [m[0] for m in s.messages if m[0].startswith("$")]
    check(leaked == [], "`#`/`+/+` matched $ topics: %r" % leaked)
    p.disconnect()
    s.disconnect()
    dollar.disconnect()


def s3_10_unsubscribe(pub, sub):
    """§3.10: after UNSUBSCRIBE the server stops sending the unsubscribed topics' messages [MQTT-3.10.4-2]."""
    s = Client(sub)
    s.subscribe([(TOPICS[1], 2), (TOPICS[2], 1), (TOPICS[3], 0)])
    s.unsubscribe(TOPICS[1])
    s.unsubscribe(TOPICS[2])
    p = Client(pub)
    p.publish(TOPICS[1], b"topic 1", 1)
    p.publish(TOPICS[2], b"topic 2", 1)
    p.publish(TOPICS[3], b"topic 3", 1)
    s.wait(lambda: len(s.messages) >= 1, "a message")
    settle(1.0)
    check([m[0] for m in s.messages] == [TOPICS[3]], "received %r" % s.messages)
    p.disconnect()
    s.disconnect()


def s3_9_3_subscribe_failure(pub, sub):
    """§3.9.3: a refused filter gets 0x80 in the SUBACK while the others of the same SUBSCRIBE are granted
    [MQTT-3.8.4-5], and no message of the refused filter is sent."""
    s = Client(sub)
    granted = s.subscribe([(NOSUBSCRIBE, 2), (TOPICS[3], 1)])
    check(granted == [0x80, 1], "SUBACK %r, expected [128, 1]" % granted)
    p = Client(pub)
    p.publish(TOPICS[0], b"not for the refused filter", 1)
    p.publish(TOPICS[3], b"granted", 1)
    s.wait(lambda: len(s.messages) >= 1, "the granted filter's message")
    settle(0.5)
    check([m[1] for m in s.messages] == [b"granted"], "received %r" % s.messages)
    p.disconnect()
    s.disconnect()


SCENARIOS = [
    s3_3_basic_publish_subscribe_qos012,
    s3_3_1_3_retained_messages,
    s3_1_2_5_will_message,
    s3_1_3_1_zero_length_clientid,
    s3_1_2_4_offline_message_queueing,
    s3_3_5_overlapping_subscriptions,
    s3_1_2_10_keepalive,
    s4_4_redelivery_on_reconnect,
    s4_7_2_dollar_topics,
    s3_10_unsubscribe,
    s3_9_3_subscribe_failure,
]


def parse_addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main(argv):
    only = None
    if "--only" in argv:
        i = argv.index("--only")
        only = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    if "--list" in argv:
        for fn in SCENARIOS:
            print(fn.__name__)
        return 0
    pub = parse_addr(argv[0])
    sub = parse_addr(argv[1]) if len(argv) > 1 else pub
    all_ok = True
    for fn in SCENARIOS:
        if only is not None and fn.__name__ != only:
            continue
        try:
            cleanup(pub, sub)
            fn(pub, sub)
            result = {"name": fn.__name__, "ok": True, "detail": ""}
        except Exception as err:  # every failure is reported, the next scenario still runs
            all_ok = False
            detail = str(err) if isinstance(err, Failed) else traceback.format_exc()
            result = {"name": fn.__name__, "ok": False, "detail": detail}
        print(json.dumps(result), flush=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
