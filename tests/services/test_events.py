"""EventBus: subscribers get each event as the object was when it was published."""

import asyncio

from local_assistants.services.events import EventBus


def test_a_subscriber_sees_the_object_as_published_not_as_it_later_became():
    async def main():
        bus = EventBus()
        sub = bus.subscribe("run_1", asyncio.get_running_loop())
        message = {"id": "msg_1", "status": "in_progress", "content": []}
        bus.publish("run_1", "thread.message.created", message)
        message["content"].append({"type": "text", "text": {"value": "42", "annotations": []}})
        message["status"] = "completed"
        bus.publish("run_1", "thread.message.completed", message)
        first, second = await sub.get(1), await sub.get(1)
        assert (first.event, first.data["status"], first.data["content"]) == ("thread.message.created",
                                                                              "in_progress", [])
        assert second.data["status"] == "completed" and second.data["content"][0]["text"]["value"] == "42"
        sub.close()
        bus.publish("run_1", "thread.message.delta", message)  # no subscriber left: nothing kept

    asyncio.run(main())
