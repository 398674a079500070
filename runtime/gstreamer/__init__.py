"""hushframe inside GStreamer pipelines: the ``hushframe`` element and its plugin folder.

* element.py: the GstBase.BaseTransform (needs PyGObject + GStreamer; loaded by GStreamer's
  Python plugin loader, never imported by the rest of hushframe);
* engine.py: the frame work without GStreamer (runtime backends, padding, tiling);
* yuv.py / ov_graph.py: NV12/I420 <-> RGB, in numpy and inside an OpenVINO graph;
* plugin.py: the folder for ``GST_PLUGIN_PATH`` (``hushframe gstreamer --plugin-path``).
"""
