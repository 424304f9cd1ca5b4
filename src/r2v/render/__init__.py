"""Output finishing shared by every engine: the spec's MP4 (H.264 yuv420p, 30 fps, AAC, +faststart),
the watermark, and decoding of input images, video frames and sound."""
