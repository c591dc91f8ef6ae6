#!/usr/bin/env python3
"""Regenerates the demo's request bodies (scripts/demo/*.json) from deploy/demo/cluster.yaml.

Developer tool only: the demo itself needs no Python. Each body is an extender/v1
ExtenderArgs as kube-scheduler sends it with nodeCacheCapable: true (Pod + NodeNames).
"""
import json
import os
import yaml

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
with open(os.path.join(root, "deploy/demo/cluster.yaml")) as f:
    items = yaml.safe_load(f)["items"]
nodes = [i["metadata"]["name"] for i in items if i["kind"] == "Node"]
pods = {i["metadata"]["name"]: i for i in items if i["kind"] == "Pod"}


def args(pod):
    pod = json.loads(json.dumps(pod))
    pod.pop("apiVersion", None)
    pod.pop("kind", None)
    pod.setdefault("status", {})["phase"] = "Pending"
    return {"Pod": pod, "Nodes": None, "NodeNames": nodes}


notebook = {
    "metadata": {"name": "notebook-0", "namespace": "research",
                 "uid": "30000000-0000-4000-8000-000000000001"},
    "spec": {"schedulerName": "mlsched", "containers": [{
        "name": "jupyter", "image": "registry.example.com/ml/jupyter:4.1",
        "resources": {"requests": {"cpu": "2", "memory": "8Gi"}}}]},
}
out = {"notebook": args(notebook)}
for name, pod in pods.items():
    if name.startswith("llama-pretrain") and not pod["spec"].get("nodeName"):
        out[name] = args(pod)
for name, body in out.items():
    with open(os.path.join(here, name + ".json"), "w") as f:
        json.dump(body, f, separators=(",", ":"))
    print("wrote", name + ".json")
