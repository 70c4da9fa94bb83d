#!/usr/bin/env python3
"""Reference publisher for the Digital Jilin IoT pipeline, wire contract v2 (docs/DEVICES.md).

    sig = hex(HMAC-SHA256(key, topic + "\\n" + payload))

over the payload bytes exactly as sent: serialise the JSON however you like (here Python's own
json.dumps, which writes 50.0), then sign those bytes. MQTT 5 carries the signature as the user
property "sig"; MQTT 3.1.1 appends it as a trailer line, "\\nsig=<hex>".

    python3 jl_publish.py --key KEY_HEX --topic TOPIC --payload JSON [--host H --port P] [--mqtt311]
    python3 jl_publish.py --key KEY_HEX --topic TOPIC --payload JSON --sign-only

Needs paho-mqtt (Debian: python3-paho-mqtt) to publish; --sign-only needs nothing but Python.
"""
import argparse
import hashlib
import hmac
import sys


def sign_v2(key: bytes, topic: str, payload: bytes) -> str:
    """The v2 signature of payload bytes sent to topic."""
    return hmac.new(key, topic.encode("utf-8") + b"\n" + payload, hashlib.sha256).hexdigest()


def publish(host: str, port: int, topic: str, payload: bytes, sig: str, mqtt311: bool, client_id: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    if mqtt311:
        client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
        client.connect(host, port)
        client.loop_start()
        info = client.publish(topic, payload + b"\nsig=" + sig.encode("ascii"), qos=1)
    else:
        client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
        client.connect(host, port)
        client.loop_start()
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("sig", sig)
        info = client.publish(topic, payload, qos=1, properties=props)
    info.wait_for_publish(timeout=10)
    client.loop_stop()
    client.disconnect()
    if not info.is_published():
        sys.exit("not acknowledged by the broker")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--key", required=True, help="the device key, hex (16 to 64 bytes)")
    p.add_argument("--topic", required=True, help="jl/{sector}/{region}/{device}/{type}")
    p.add_argument("--payload", required=True, help="the JSON payload, sent byte for byte")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--client-id", default="jl-python-signer")
    p.add_argument("--mqtt311", action="store_true", help="MQTT 3.1.1: the signature as a trailer line")
    p.add_argument("--sign-only", action="store_true", help="print the signature and publish nothing")
    a = p.parse_args()
    payload = a.payload.encode("utf-8")
    sig = sign_v2(bytes.fromhex(a.key), a.topic, payload)
    if a.sign_only:
        print(sig)
        return
    publish(a.host, a.port, a.topic, payload, sig, a.mqtt311, a.client_id)
    print(sig)


if __name__ == "__main__":
    main()
